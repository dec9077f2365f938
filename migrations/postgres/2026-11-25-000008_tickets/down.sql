DROP TABLE ticket_messages;
DROP TABLE ticket_events;
DROP TABLE ticket_tags;
DROP TABLE tickets;
DROP TABLE sla_policies;
