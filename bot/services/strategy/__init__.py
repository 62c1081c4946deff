"""Strategy control: the decision cycle, proposals and approvals, booking, status, the resume
of interrupted actions, and the cross-venue reads (``cross``, ``/arb``) it relies on."""
