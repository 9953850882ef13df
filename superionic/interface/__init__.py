"""Interface and device models: contact, fracture, SEI, creep, runaway, dendrites, coatings.

Modules: :mod:`contact` (areas, Holm/Greenwood constriction), :mod:`roughness`
(Greenwood-Williamson, plastic limit, JKR), :mod:`fracture` (spring layer, mixed mode, shear
lag), :mod:`decay` (SEI growth, SLS/Prony pad, Li creep), :mod:`runaway` (hot spot),
:mod:`dendrite` (deposition stability), :mod:`coating` (cathode coating window),
:mod:`thermo` (reaction Gibbs energies), :mod:`parameters` (named material sets) and
:mod:`models` (the runnable registry behind ``superionic interface``).
"""
