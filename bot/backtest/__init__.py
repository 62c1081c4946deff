"""``python -m bot.backtest``: the strategy's backtest from the command line (see __main__)."""
