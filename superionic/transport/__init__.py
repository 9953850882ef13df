"""Transport: unwrapping, MSD, diffusion, conductivity, Haven ratio, Green–Kubo, Arrhenius."""
