"""Customer-experience insights: drivers of satisfaction, self-service gaps, deflection."""
