"""Reading what users type: the one reading of a command, the number grammar, and the closest
command to something the bot did not understand (all pure)."""
