# Stage: synthesis (to be written).
