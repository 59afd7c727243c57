"""What requests leave behind: the audit log, metrics, traces and the usage report. Imports skills and
the base.
"""
