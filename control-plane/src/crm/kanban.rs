//! Kanban pipelines: boards, columns, leads, their notes, activities and AI qualification.
