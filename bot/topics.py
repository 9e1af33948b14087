"""Which Community Supports, or Enhanced Care Management, a request mentions.

`detect_services("can u help w a deposit")` returns `["housing_deposits"]`.
The text is folded and tokenized with the shared blank English tokenizer,
which leaves Spanish words whole. Key words with one typo are corrected by
edit distance ("depost", "nursin"), and `Matcher` rules on the NORM
attribute name the services.

Rules between mentions:

- A general housing request ("housing help", "I'm homeless") means all three
  housing services, unless the text names a specific one ("housing deposit"
  is only `housing_deposits`).
- A nursing facility mention ("wants out of the nursing home") means both
  `assisted_living_transition` and `community_transition_home`, unless the
  text names one of the two ("... and wants to move home").
- "Community Supports" in general means all seven services.

NOTE: negation is not read, so "not housing, just meals" lists both.
"""

from __future__ import annotations

from bot.nlp import MatcherCache, closest, fold, make_doc, pattern_from_spec, spec_words

ECM = "ecm"
HOUSING_SERVICES = (
    "housing_transition_navigation",
    "housing_deposits",
    "housing_tenancy_sustaining",
)
SERVICES = HOUSING_SERVICES + (
    "assisted_living_transition",
    "community_transition_home",
    "home_modifications",
    "medically_tailored_meals",
)
_FACILITY_SERVICES = ("assisted_living_transition", "community_transition_home")

# fmt: off
SETS = {
    # Without "home" and "casa": "need a home modification" is no housing search.
    "PLACE": ["housing", "apartment", "place", "room", "unit", "rental", "studio",
              "shelter", "apartamento", "departamento", "vivienda", "lugar",
              "cuarto"],
    "MY": ["my", "the", "our", "a", "an", "mi", "la", "el", "nuestra", "nuestro",
           "un", "una", "her", "his", "their", "su"],
    "FIND": ["find", "finding", "search", "searching", "look", "looking", "hunt",
             "hunting", "locate", "apply", "applying", "need",
             "new", "affordable", "buscar", "busco", "buscando", "encontrar",
             "conseguir", "necesito", "solicitar"],
    "KEEP": ["keep", "keeping", "maintain", "save", "lose", "losing", "lost",
             "mantener", "conservar", "perder"],
    "NURSING": ["nursing", "snf", "convalescent", "asilo", "skilled"],
    "MOVE": ["move", "moving", "go", "going", "get", "come", "return", "returning",
             "transition", "live", "living", "back", "regresar", "volver", "ir",
             "mudarse", "mudarme", "vivir", "salir"],
}

# (name, services, pattern in the notation of bot.nlp.pattern_from_spec)
RULES = (
    # housing in general
    ("housing.general", ("housing",),
     "housing|vivienda|homeless|homelessness|unhoused|unsheltered|alojamiento"),
    ("housing.without_home", ("housing",), "sin hogar|casa|techo|vivienda"),
    ("housing.place_to_live", ("housing",),
     "place|lugar|sitio|somewhere to|para live|stay|sleep|vivir|quedarme|dormir"),
    ("housing.rent", ("housing",),
     "rent|renta|alquiler|apartment|apartamento|departamento"),
    # deposits
    ("deposits.word", ("housing_deposits",), "deposit|deposito|deposite|deposito"),
    ("deposits.first_month", ("housing_deposits",),
     "first|primer|primera ?month|mes|months ?'s ?de ?rent|renta"),
    ("deposits.move_in", ("housing_deposits",),
     "move|moving|mudanza ?- ?in costs|cost|fees|fee|expenses|gastos"),
    ("deposits.moving_costs", ("housing_deposits",), "gastos ?de mudanza"),
    ("deposits.utilities", ("housing_deposits",),
     "utility|utilities|lights|gas|electricity|luz setup|set|hookup|hook|connect|"
     "connected"),
    ("deposits.turn_on_utilities", ("housing_deposits",),
     "turn|turned|conectar on ?the utilities|utility|lights|electricity|luz"),
    ("deposits.furniture", ("housing_deposits",), "furniture|muebles"),
    # navigation
    ("navigation.find", ("housing_transition_navigation",),
     "@FIND ?for ?@MY ?~ @PLACE"),
    ("navigation.find_place", ("housing_transition_navigation",),
     "find|finding|buscar|encontrar|busco ?a|an|un|una ?new|nuevo|nueva place|home|"
     "hogar|casa"),
    ("navigation.apply", ("housing_transition_navigation",),
     "housing application|applications|search|navigator|navigation|voucher|waitlist|"
     "list"),
    ("navigation.section8", ("housing_transition_navigation",), "section ?8|eight"),
    ("navigation.voucher", ("housing_transition_navigation",), "voucher|vouchers|vale"),
    ("navigation.housed", ("housing_transition_navigation",), "get|getting housed"),
    # tenancy
    ("tenancy.keep", ("housing_tenancy_sustaining",),
     "@KEEP ?@MY @PLACE|lease|home|house|casa|hogar"),
    ("tenancy.evict", ("housing_tenancy_sustaining",),
     "evict|evicted|eviction|evicting|desalojo|desalojar|desalojan|desalojaron|"
     "desalojen|desahucio"),
    ("tenancy.landlord", ("housing_tenancy_sustaining",),
     "landlord|landlady|arrendador|casero|casera|propietario|dueno|tenant|tenancy|"
     "inquilino|inquilina|lease"),
    ("tenancy.behind_rent", ("housing_tenancy_sustaining",),
     "behind|atrasado|atrasada on|with|en ?my|the|la ?el rent|renta|pago"),
    # assisted living
    ("assisted_living.word", ("assisted_living_transition",),
     "assisted|asistida living|vida|residence|residencia"),
    ("assisted_living.vida_asistida", ("assisted_living_transition",),
     "vida|residencia|hogar|casa asistida|asistido"),
    ("assisted_living.board_and_care", ("assisted_living_transition",),
     "board and|&|n care"),
    ("assisted_living.residential", ("assisted_living_transition",),
     "residential care|facility|home|rcfe"),
    ("assisted_living.rcfe", ("assisted_living_transition",), "rcfe"),
    ("assisted_living.casa_cuidado", ("assisted_living_transition",),
     "casa|hogar|residencia de cuidado|cuidados"),
    # nursing facilities: both transition services
    ("facility.nursing", ("facility",), "@NURSING home|homes|facility|facilities|care"),
    ("facility.snf", ("facility",), "snf|asilo"),
    ("facility.skilled", ("facility",), "skilled nursing"),
    ("facility.long_term", ("facility",), "long ?- term care facility|home"),
    ("facility.es", ("facility",),
     "hogar|casa|residencia|centro de ancianos|reposo|enfermeria"),
    # moving home
    ("move_home.home", ("community_transition_home",),
     "@MOVE ?back ?to|a|al|para home|casa|hogar"),
    ("move_home.own_place", ("community_transition_home",),
     "live|living|vivir on|in ?my|mi own|propia|propio|sola|solo "
     "?place|apartment|casa"),
    ("move_home.independently", ("community_transition_home",),
     "live|living|vivir independently|independiente|independientemente"),
    # home modifications
    ("home_mods.bars", ("home_modifications",),
     "grab|safety|barras|barra bar|bars|rail|rails|de|apoyo"),
    ("home_mods.grabbars", ("home_modifications",), "grabbars|grabbar"),
    ("home_mods.ramp", ("home_modifications",), "ramp|ramps|rampa|rampas"),
    ("home_mods.stair_lift", ("home_modifications",),
     "stair|stairs|chair|escalera|escaleras lift|lifts|elevador|silla"),
    ("home_mods.stairlift", ("home_modifications",), "stairlift|chairlift|stairlifts"),
    ("home_mods.handrail", ("home_modifications",),
     "handrail|handrails|railing|railings|barandal|barandales|pasamanos|barandilla"),
    ("home_mods.modification", ("home_modifications",),
     "home|house|casa|hogar modification|modifications|mod|mods|changes|adaptation|"
     "adaptations|repairs|accessibility"),
    ("home_mods.modify", ("home_modifications",),
     "modify|adapt|modifying|adapting|modificar|adaptar ?my|the|mi|la|el home|house|"
     "bathroom|apartment|casa|bano|hogar"),
    ("home_mods.es", ("home_modifications",),
     "modificacion|modificaciones|adaptacion|adaptaciones|cambios ?~ ?~ casa|hogar|"
     "bano|vivienda"),
    ("home_mods.accessible", ("home_modifications",),
     "accessible|accessibility|wheelchair|accesible|accesibilidad"),
    ("home_mods.walk_in", ("home_modifications",), "walk ?- in shower|tub|bathtub"),
    ("home_mods.widen", ("home_modifications",),
     "widen|wider ?the door|doors|doorway|doorways"),
    ("home_mods.shower_chair", ("home_modifications",),
     "shower|bath|ducha|bano chair|bench|seat|silla"),
    ("home_mods.safer_home", ("home_modifications",),
     "make|hacer ?my|the|mi|la|el home|house|bathroom|casa|bano safer|safe|segura|"
     "seguro|accessible"),
    # meals
    ("meals.word", ("medically_tailored_meals",),
     "meal|meals|food|foods|nutrition|nutritional|nutritionist|diet|groceries|grocery|"
     "comida|comidas|alimentos|alimentacion|nutricion|dieta|despensa"),
    ("meals.tailored", ("medically_tailored_meals",),
     "tailored|medically meal|meals|food"),
    # enhanced care management
    ("ecm.manager", (ECM,),
     "care|case manager|managers|management|coordinator|coordination|managment|manger"),
    ("ecm.word", (ECM,), "ecm"),
    ("ecm.enhanced", (ECM,), "enhanced|mejorada care|atencion|management"),
    ("ecm.coordinate", (ECM,),
     "coordinate|coordinating|coordinar ?my|mi|la|el care|cuidado|atencion"),
    ("ecm.whole_person", (ECM,), "whole person care"),
    ("ecm.es_manager", (ECM,),
     "administrador|administradora|gestor|gestora|coordinador|coordinadora|manejador|"
     "manejadora|manejo|coordinacion de casos|cuidado|atencion|cuidados"),
    ("ecm.atencion_mejorada", (ECM,), "atencion|cuidado mejorada|mejorado"),
    # Community Supports in general
    ("cs.general", ("all",), "community support|supports"),
    ("cs.es", ("all",),
     "apoyos|servicios|apoyo comunitarios|comunitario|comunitaria|comunitarias"),
)

# Typed forms mapped to the form the rules use.
VARIANTS = {
    "deposits": "deposit", "depositos": "deposito", "depocito": "deposito",
    "meals": "meal", "groserias": "groceries",
    # "meals" is not matched by edit distance: "feels" and "deals" are one
    # letter away, so only these typed forms are read as meals.
    "meels": "meal", "meel": "meal", "mealz": "meal", "meales": "meal",
    "mels": "meal", "comidass": "comidas",
    "apt": "apartment", "apts": "apartment", "apartments": "apartment",
    "appartment": "apartment", "aparment": "apartment", "apartmnt": "apartment",
    "u": "you", "w": "with", "w/": "with", "bc": "because", "hsg": "housing",
    "housin": "housing", "nursinghome": "nursing", "nh": "nursing",
    "mgr": "manager", "cm": "manager", "mang": "manager",
    "s8": "section", "grab-bars": "grabbars", "bañoo": "bano",
    "landlords": "landlord", "ramps": "ramp",
}
# Long key words matched with one typo.
FUZZY_TARGETS = (
    "housing", "deposit", "deposito", "apartment", "apartamento", "eviction",
    "evicted", "landlord", "assisted", "nursing", "facility", "modification",
    "modifications", "wheelchair", "handrail", "railing", "railings", "nutrition",
    "manager", "management", "coordinator", "vivienda", "desalojo", "comidas",
    "administrador", "administradora", "modificaciones", "asistida", "groceries",
    "accessibility", "tailored", "enhanced", "homeless", "community", "supports",
    "comunitarios", "alimentos", "transition", "stairlift",
)
# Real words one typo away from a key word.
NOT_TYPOS = frozenset(
    {"hosing", "nursery", "manger", "managed", "managers", "deposed", "facile",
     "railroad", "enhance", "homeliness", "comedias", "nutritious"}
)
# fmt: on


def _canonical(word: str) -> str:
    if word in VARIANTS:
        return VARIANTS[word]
    if word in _vocabulary() or len(word) < 5 or not word.isalpha():
        return word
    if word in NOT_TYPOS:
        return word
    near = closest(word, FUZZY_TARGETS, max_distance=1)
    return near if near is not None else word


_VOCABULARY: frozenset | None = None


def _vocabulary() -> frozenset:
    global _VOCABULARY
    if _VOCABULARY is None:
        words: set[str] = set()
        for values in SETS.values():
            words.update(values)
        for _, _, spec in RULES:
            words.update(spec_words(spec))
        _VOCABULARY = frozenset(words)
    return _VOCABULARY


def _build_matcher(nlp):
    from spacy.matcher import Matcher

    matcher = Matcher(nlp.vocab)
    for name, _, spec in RULES:
        matcher.add(name, [pattern_from_spec(spec, SETS)])
    return matcher


_MATCHER = MatcherCache("en", _build_matcher)
_RULE_SERVICES = {name: services for name, services, _ in RULES}


def detect_services(text: str) -> list[str]:
    """List the Community Supports and/or "ecm" that a free-text request mentions.

    Args:
        text: the member's message, English or Spanish.

    Returns:
        Service keys in a fixed order: "ecm" first, then the seven Community
        Supports in the order of `SERVICES`. Empty when none is mentioned.
    """
    if not text or not text.strip():
        return []
    doc = make_doc(fold(text), "en")
    for token in doc:
        if not (token.is_punct or token.is_space):
            token.norm_ = _canonical(token.norm_)

    matcher = _MATCHER.get()
    labels: set[str] = set()
    for match_id, _, _ in matcher(doc):
        labels.update(_RULE_SERVICES[matcher.vocab.strings[match_id]])

    found = {label for label in labels if label == ECM or label in SERVICES}
    if "all" in labels:
        found.update(SERVICES)
    if "housing" in labels and not found & set(HOUSING_SERVICES):
        found.update(HOUSING_SERVICES)
    if "facility" in labels and not found & set(_FACILITY_SERVICES):
        found.update(_FACILITY_SERVICES)
    return [key for key in (ECM,) + SERVICES if key in found]
