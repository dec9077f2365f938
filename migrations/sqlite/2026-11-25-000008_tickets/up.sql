-- Support tickets (issue 6).

-- SLA targets per priority and optionally category; the calendar is null for 24/7.
CREATE TABLE sla_policies (
    id                     TEXT PRIMARY KEY NOT NULL,
    name                   TEXT NOT NULL,
    priority               TEXT NOT NULL,
    category               TEXT,
    first_response_minutes BIGINT NOT NULL,
    resolution_minutes     BIGINT NOT NULL,
    calendar               TEXT,
    version                BIGINT NOT NULL,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);
-- One policy per priority and category (and one per priority for "any category").
CREATE UNIQUE INDEX sla_policies_target ON sla_policies (priority, COALESCE(category, ''));

CREATE TABLE tickets (
    id                       TEXT PRIMARY KEY NOT NULL,
    customer_id              TEXT NOT NULL REFERENCES customers (id),
    subject                  TEXT NOT NULL,
    description              TEXT,
    channel                  TEXT NOT NULL,
    category                 TEXT,
    tags                     TEXT NOT NULL,
    priority                 TEXT NOT NULL,
    status                   TEXT NOT NULL,
    assignee_id              TEXT REFERENCES users (id),
    product_model            TEXT,
    product_serial           TEXT,
    product_purchased_at     TEXT,
    purchase_interaction_id  TEXT REFERENCES interactions (id) ON DELETE SET NULL,
    custom_fields            TEXT NOT NULL,
    -- The SLA policy copied onto the ticket, and the spans its resolution clock stood still.
    sla_terms                TEXT,
    sla_pauses               TEXT NOT NULL,
    -- Derived from the above at every write, for filters and stats: due times (resolution's is
    -- null while the clock stands still or once met) and breaches known at the last write.
    first_response_due_at    TEXT,
    resolution_due_at        TEXT,
    first_response_breached  BOOLEAN NOT NULL,
    resolution_breached      BOOLEAN NOT NULL,
    first_responded_at       TEXT,
    solved_at                TEXT,
    closed_at                TEXT,
    -- The customer's rating once given: {"rating", "comment", "rated_at"}.
    csat                     TEXT,
    -- Subject and description folded to lower case (Unicode) for `q`; SQLite's lower() is ASCII-only.
    search_text              TEXT NOT NULL,
    created_by_type          TEXT,
    created_by_id            TEXT,
    version                  BIGINT NOT NULL,
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL
);
CREATE INDEX tickets_customer ON tickets (customer_id, id);
CREATE INDEX tickets_status ON tickets (status, id);
CREATE INDEX tickets_assignee ON tickets (assignee_id, id);
CREATE INDEX tickets_model ON tickets (product_model, customer_id);
CREATE INDEX tickets_first_response_due ON tickets (first_response_due_at) WHERE first_responded_at IS NULL;
CREATE INDEX tickets_resolution_due ON tickets (resolution_due_at) WHERE resolution_due_at IS NOT NULL;

-- Tags mirrored for an index seek, as for customers.
CREATE TABLE ticket_tags (
    ticket_id TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    tag       TEXT NOT NULL,
    PRIMARY KEY (tag, ticket_id)
);

-- Every change of status, priority, assignee or category; the first response; the rating.
CREATE TABLE ticket_events (
    id          TEXT PRIMARY KEY NOT NULL,
    ticket_id   TEXT NOT NULL REFERENCES tickets (id),
    customer_id TEXT NOT NULL REFERENCES customers (id),
    kind        TEXT NOT NULL,
    from_value  TEXT,
    to_value    TEXT,
    actor_type  TEXT,
    actor_id    TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);
CREATE INDEX ticket_events_customer ON ticket_events (customer_id, created_at, id);

-- Public replies and internal notes.
CREATE TABLE ticket_messages (
    id          TEXT PRIMARY KEY NOT NULL,
    ticket_id   TEXT NOT NULL REFERENCES tickets (id),
    visibility  TEXT NOT NULL,
    author_type TEXT NOT NULL,
    author_id   TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, id);
