"""
ktriage
-------

Turn a Linux kernel crash dump (or the text of a kernel oops) into an answer: what
crashed, why, who is to blame, how sure we are and what to do next.

Data flows one way: ``source`` -> ``facts`` -> ``findings`` -> ``report``.
"""

__version__ = "0.1.0"
