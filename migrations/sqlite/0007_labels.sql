-- The emotion is a label (src/chain/emotion.rs): lower-case ASCII letters
-- and spaces, at most 32 characters. Rows written before this keep their
-- emotion only where it already fits, lower-cased; free text the model
-- wrote there goes. The model name is kept only where it is a plain model
-- id (src/llm/mod.rs `is_model_id`).
UPDATE interactions SET emotion = lower(trim(emotion)) WHERE emotion IS NOT NULL;
UPDATE interactions SET emotion = NULL
 WHERE emotion = '' OR length(emotion) > 32 OR emotion GLOB '*[^a-z ]*';

UPDATE eval_items SET emotion = lower(trim(emotion)) WHERE emotion IS NOT NULL;
UPDATE eval_items SET emotion = NULL
 WHERE emotion = '' OR length(emotion) > 32 OR emotion GLOB '*[^a-z ]*';

UPDATE interactions SET model = 'unknown'
 WHERE length(model) > 128 OR model GLOB '[^A-Za-z0-9]*' OR model GLOB '*[^A-Za-z0-9._:/+-]*';
