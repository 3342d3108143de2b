"""A course's term: runtime settings (dates, late policy, which submission counts) and the final grade."""
