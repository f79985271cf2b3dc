"""Station performance: a day's boardings per station against the same weekday's history.

Read from two rollups folded with the others (migration 0012): boardings per station and local
hour, for the weeks of history, and per quarter hour, for the day itself.
"""
