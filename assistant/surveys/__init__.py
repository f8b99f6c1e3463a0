"""Customer surveys (CSAT, CES, NPS) tied to tickets, for the KPIs and the drivers of satisfaction."""
