"""One small HealthCheck class per component; WINKR_HEALTH["CHECKS"] lists which run."""
