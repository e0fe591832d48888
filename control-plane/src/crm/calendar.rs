//! The Calendar: appointments, their status transitions and WhatsApp reminders.
