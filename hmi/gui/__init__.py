"""Qt only: the main window shell, views, view models and the bus-to-Qt bridge."""
