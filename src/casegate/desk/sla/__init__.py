"""Service levels: calendars of business hours (:mod:`.calendar`, the arithmetic), policies
chosen by conditions with their targets (:mod:`.rules`, :mod:`.policies`), each case's clock
(:mod:`.clocks`) and the job telling warnings and breaches to the triggers (:mod:`.alarms`).
"""
