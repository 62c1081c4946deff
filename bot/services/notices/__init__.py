"""What the bot says unasked: watchers (funding, flips, liquidation, stale stream), fill notices
from the private order stream, and the outbox every such message goes through."""
