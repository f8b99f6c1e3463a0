"""Business-hour schedules per department, and the calculator that measures KPIs in business hours."""
