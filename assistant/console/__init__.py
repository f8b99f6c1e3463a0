"""The browser console: agent desk, KPI dashboard and knowledge admin, served by the same app."""
