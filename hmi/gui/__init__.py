"""Qt only: the main window shell, views, view models and the per-tag feed."""
