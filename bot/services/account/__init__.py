"""The account: positions, orders and balances, the PnL journal, and the reports built on it."""
