"""Agent assist: suggestions (similar cases, FAQ entries, next-best actions), feedback and the live socket."""
