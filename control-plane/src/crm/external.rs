//! External Functions: keyed endpoints through which outside systems act on WhatsApp.
