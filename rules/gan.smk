# Stage: gan (to be written).
