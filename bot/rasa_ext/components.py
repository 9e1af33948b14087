"""Rasa NLU components of the product."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text, Type

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.safety import detect_crisis

logger = logging.getLogger(__name__)

CRISIS_INTENT = "crisis"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class CrisisOverride(GraphComponent, IntentClassifier):
    """Set the intent to `crisis` whenever the rule layer detects a crisis.

    It runs after DIET and the fallback classifier, so a crisis message is never
    lost to a low-confidence prediction. The detected category and language go
    into the message as `crisis` (no copy of the text).
    """

    @classmethod
    def required_components(cls) -> List[Type]:
        return [IntentClassifier]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.component_config = config

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "CrisisOverride":
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        """Override the predicted intent of every message that reads as a crisis."""
        for message in messages:
            match = detect_crisis(message.get(TEXT) or "")
            if match is None:
                continue

            intent = {"name": CRISIS_INTENT, "confidence": 1.0}
            message.set(INTENT, intent, add_to_output=True)
            ranking = [
                item
                for item in message.get(INTENT_RANKING_KEY) or []
                if item.get("name") != CRISIS_INTENT
            ]
            message.set(INTENT_RANKING_KEY, [intent, *ranking], add_to_output=True)
            message.set(
                "crisis",
                {"category": match.category, "language": match.language},
                add_to_output=True,
            )
            logger.info("Crisis rule layer matched (category=%s)", match.category)
        return messages
