"""The revenue forecast: daily fare revenue for the next 14 days, with its backtest.

The fit (model.py: statsmodels, pandas, numpy) runs in a process of its own (job.py), at most
hourly, and stores its answer; the served workers only read that answer (service.py), so
they never import the fitting libraries (~160 MB) and a request never waits for a fit.
"""
