"""Human quality assessment: sampling, protocols, the annotation app, agreement statistics, reports."""
