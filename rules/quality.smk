# Stage: quality (to be written).
