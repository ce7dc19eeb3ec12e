"""Template tags of the transforms app."""
