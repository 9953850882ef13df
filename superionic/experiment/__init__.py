"""Lab data: impedance spectroscopy, Hebb–Wagner polarisation, QENS."""
