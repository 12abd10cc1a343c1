# Stage: data (to be written).
