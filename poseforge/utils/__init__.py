"""Small shared utilities (config loading and checking)."""
