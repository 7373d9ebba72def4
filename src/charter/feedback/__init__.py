"""Human in the loop and end-user feedback: interactions, sampling into review queues, leases, reviews,
feedback keys, flag-rate spikes that open incidents."""
