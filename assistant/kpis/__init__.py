"""Support KPIs (FRT, resolution times, FCR) aggregated in the database, and business-hour schedules."""
