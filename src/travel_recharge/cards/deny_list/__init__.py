"""The deny list: the cards a validator must refuse, for validators that tap offline.

A validator downloads the list once (a snapshot, with its version), then asks only for the
changes since the version it holds (a delta: cards added, cards removed, the new version). A
card blocked now is refused by an offline validator from its next sync. The changes are
recorded by a trigger on cards, numbered in commit order (migration 0017), so a delta never
skips a change that commits late.
"""
