//! Discovery documents: legacy (`/api`, `/apis`, per group and version) and aggregated v2.
