# Stage: weights (to be written).
