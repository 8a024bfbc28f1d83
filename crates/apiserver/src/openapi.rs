//! OpenAPI v2 (JSON and protobuf) and v3 documents built from the registered schemas.
