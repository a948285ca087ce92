"""casusbot on Microsoft Teams (optional: pip install casusbot[teams])."""
