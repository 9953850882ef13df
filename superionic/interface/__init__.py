"""Interface and device models: contact, fracture, SEI, creep, runaway, dendrites, coatings."""
