"""The three splits of every SARL corpus, in order: what the probe trains on, chooses its
L2 strength on, and reports.

>>> SPLITS
('train', 'validation', 'test')
"""

SPLITS = ("train", "validation", "test")
