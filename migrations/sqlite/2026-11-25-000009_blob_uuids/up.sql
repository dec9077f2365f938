-- UUIDs are stored as 16-byte blobs on SQLite (see crates/store/src/types.rs): less than half
-- the size of their text, in every key and index, and in the same order. This converts the ids
-- of a database made before; the columns keep their declared TEXT type, whose affinity leaves
-- blobs as they are. The foreign keys are checked once, at the end, when every side is converted.
PRAGMA defer_foreign_keys = ON;

UPDATE users SET
    id = CASE WHEN typeof(id) = 'text' THEN unhex(replace(id, '-', '')) ELSE id END;
UPDATE api_keys SET
    id = CASE WHEN typeof(id) = 'text' THEN unhex(replace(id, '-', '')) ELSE id END;
UPDATE refresh_tokens SET
    id = CASE WHEN typeof(id) = 'text' THEN unhex(replace(id, '-', '')) ELSE id END,
    user_id = CASE WHEN typeof(user_id) = 'text' THEN unhex(replace(user_id, '-', '')) ELSE user_id END,
    family_id = CASE WHEN typeof(family_id) = 'text' THEN unhex(replace(family_id, '-', '')) ELSE family_id END;
UPDATE customers SET
    id = CASE WHEN typeof(id) = 'text' THEN unhex(replace(id, '-', '')) ELSE id END;
UPDATE customer_tags SET
    customer_id = CASE WHEN typeof(customer_id) = 'text' THEN unhex(replace(customer_id, '-', '')) ELSE customer_id END;
UPDATE interactions SET
    id = CASE WHEN typeof(id) = 'text' THEN unhex(replace(id, '-', '')) ELSE id END,
    customer_id = CASE WHEN typeof(customer_id) = 'text' THEN unhex(replace(customer_id, '-', '')) ELSE customer_id END,
    campaign_id = CASE WHEN typeof(campaign_id) = 'text' THEN unhex(replace(campaign_id, '-', '')) ELSE campaign_id END,
    agent_id = CASE WHEN typeof(agent_id) = 'text' THEN unhex(replace(agent_id, '-', '')) ELSE agent_id END;
UPDATE customer_purchase_totals SET
    customer_id = CASE WHEN typeof(customer_id) = 'text' THEN unhex(replace(customer_id, '-', '')) ELSE customer_id END;
UPDATE customer_aliases SET
    customer_id = CASE WHEN typeof(customer_id) = 'text' THEN unhex(replace(customer_id, '-', '')) ELSE customer_id END;
UPDATE customer_merges SET
    id = CASE WHEN typeof(id) = 'text' THEN unhex(replace(id, '-', '')) ELSE id END,
    survivor_id = CASE WHEN typeof(survivor_id) = 'text' THEN unhex(replace(survivor_id, '-', '')) ELSE survivor_id END,
    duplicate_id = CASE WHEN typeof(duplicate_id) = 'text' THEN unhex(replace(duplicate_id, '-', '')) ELSE duplicate_id END;
UPDATE loyalty_entries SET
    id = CASE WHEN typeof(id) = 'text' THEN unhex(replace(id, '-', '')) ELSE id END,
    customer_id = CASE WHEN typeof(customer_id) = 'text' THEN unhex(replace(customer_id, '-', '')) ELSE customer_id END,
    source_id = CASE WHEN typeof(source_id) = 'text' THEN unhex(replace(source_id, '-', '')) ELSE source_id END,
    reverses_id = CASE WHEN typeof(reverses_id) = 'text' THEN unhex(replace(reverses_id, '-', '')) ELSE reverses_id END;
UPDATE loyalty_lots SET
    entry_id = CASE WHEN typeof(entry_id) = 'text' THEN unhex(replace(entry_id, '-', '')) ELSE entry_id END,
    customer_id = CASE WHEN typeof(customer_id) = 'text' THEN unhex(replace(customer_id, '-', '')) ELSE customer_id END;
UPDATE loyalty_consumptions SET
    entry_id = CASE WHEN typeof(entry_id) = 'text' THEN unhex(replace(entry_id, '-', '')) ELSE entry_id END,
    lot_id = CASE WHEN typeof(lot_id) = 'text' THEN unhex(replace(lot_id, '-', '')) ELSE lot_id END;
UPDATE loyalty_rewards SET
    id = CASE WHEN typeof(id) = 'text' THEN unhex(replace(id, '-', '')) ELSE id END;
UPDATE loyalty_redemptions SET
    id = CASE WHEN typeof(id) = 'text' THEN unhex(replace(id, '-', '')) ELSE id END,
    customer_id = CASE WHEN typeof(customer_id) = 'text' THEN unhex(replace(customer_id, '-', '')) ELSE customer_id END,
    reward_id = CASE WHEN typeof(reward_id) = 'text' THEN unhex(replace(reward_id, '-', '')) ELSE reward_id END,
    entry_id = CASE WHEN typeof(entry_id) = 'text' THEN unhex(replace(entry_id, '-', '')) ELSE entry_id END,
    cancel_entry_id = CASE WHEN typeof(cancel_entry_id) = 'text' THEN unhex(replace(cancel_entry_id, '-', '')) ELSE cancel_entry_id END;
UPDATE loyalty_reward_codes SET
    redemption_id = CASE WHEN typeof(redemption_id) = 'text' THEN unhex(replace(redemption_id, '-', '')) ELSE redemption_id END;
UPDATE sla_policies SET
    id = CASE WHEN typeof(id) = 'text' THEN unhex(replace(id, '-', '')) ELSE id END;
UPDATE tickets SET
    id = CASE WHEN typeof(id) = 'text' THEN unhex(replace(id, '-', '')) ELSE id END,
    customer_id = CASE WHEN typeof(customer_id) = 'text' THEN unhex(replace(customer_id, '-', '')) ELSE customer_id END,
    assignee_id = CASE WHEN typeof(assignee_id) = 'text' THEN unhex(replace(assignee_id, '-', '')) ELSE assignee_id END,
    purchase_interaction_id = CASE WHEN typeof(purchase_interaction_id) = 'text' THEN unhex(replace(purchase_interaction_id, '-', '')) ELSE purchase_interaction_id END,
    created_by_id = CASE WHEN typeof(created_by_id) = 'text' THEN unhex(replace(created_by_id, '-', '')) ELSE created_by_id END;
UPDATE ticket_tags SET
    ticket_id = CASE WHEN typeof(ticket_id) = 'text' THEN unhex(replace(ticket_id, '-', '')) ELSE ticket_id END;
UPDATE ticket_events SET
    id = CASE WHEN typeof(id) = 'text' THEN unhex(replace(id, '-', '')) ELSE id END,
    ticket_id = CASE WHEN typeof(ticket_id) = 'text' THEN unhex(replace(ticket_id, '-', '')) ELSE ticket_id END,
    customer_id = CASE WHEN typeof(customer_id) = 'text' THEN unhex(replace(customer_id, '-', '')) ELSE customer_id END,
    actor_id = CASE WHEN typeof(actor_id) = 'text' THEN unhex(replace(actor_id, '-', '')) ELSE actor_id END;
UPDATE ticket_messages SET
    id = CASE WHEN typeof(id) = 'text' THEN unhex(replace(id, '-', '')) ELSE id END,
    ticket_id = CASE WHEN typeof(ticket_id) = 'text' THEN unhex(replace(ticket_id, '-', '')) ELSE ticket_id END,
    author_id = CASE WHEN typeof(author_id) = 'text' THEN unhex(replace(author_id, '-', '')) ELSE author_id END;
