# Stage: classify (to be written).
