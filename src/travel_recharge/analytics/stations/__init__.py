"""Station performance: a day's boardings per station against the same weekday's history.

Read from a rollup folded with the others (migration 0016): a row per station and local day
holding its boardings by hour (the weeks of history) and by quarter hour (the day itself).
"""
