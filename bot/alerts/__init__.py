"""Price and funding alerts, and the watchers that run without being asked."""
