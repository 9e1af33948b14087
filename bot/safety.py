"""Crisis detection rule layer for English and Spanish messages.

`detect_crisis` runs before NLU decides anything else. It folds the message
(lowercase, no accents) and joins a few split spellings ("my self", "O.D.'d",
"sewer slide"). The shared blank English tokenizer splits it, and every token
gets a canonical form in NORM. Known misspellings come from a table ("kil",
"mysef"), leetspeak is undone ("k1ll"), and words of five letters or more
within edit distance 1 of a crisis word are read as that word ("suicde").
`Matcher` rules then run on those canonical forms.

The rules favour a false alarm over a miss, with these deliberate borderline
calls (docs/crisis-detection.md lists them all):

- Any mention of suicide, an overdose or self-harm raises an alarm, even about
  the past or another person ("my brother died by suicide").
- "kill time", "this form is killing me" and "my back is killing me" are not
  crises; "X is going to kill me" is violence even when said in jest.
- A stroke or heart attack is an emergency only when it is happening ("I
  think I'm having a stroke"), not as history ("I had a stroke in 2019").
- "I can't do this anymore" and "ya no puedo más" raise an alarm.

The result never copies message text: only the category, the language and the
name of the rule that fired.

Run `python -m bot.safety --report` to measure the rules against the tables in
tests/data and rewrite the measured section of docs/crisis-detection.md.
"""

from __future__ import annotations

import argparse
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from bot.nlp import (
    MatcherCache,
    closest,
    fold,
    make_doc,
    pattern_from_spec,
    spec_words,
    squeeze,
)

logger = logging.getLogger(__name__)

CATEGORIES = ("suicide", "self_harm", "overdose", "violence", "medical_emergency")


@dataclass(frozen=True)
class CrisisMatch:
    """A crisis found in a message.

    Attributes:
        category: one of `CATEGORIES`.
        language: "en" or "es", judged from the words of the message.
        rule: name of the rule that fired, for logs and tests.
    """

    category: str
    language: str
    rule: str


# --- normalization ------------------------------------------------------------

# Split or dotted spellings joined before tokenizing, on folded text.
_JOINS = (
    (re.compile(r"\bmy\s+self\b"), "myself"),
    (re.compile(r"\bself[\s\-]*(harm\w*|injur\w*|delet\w*)"), r"self\1"),
    (re.compile(r"\bover[\s\-]+dos(e|ed|es|ing)\b"), r"overdos\1"),
    (re.compile(r"\bsobre[\s\-]+dosis\b"), "sobredosis"),
    (re.compile(r"\bo\.?d\.?(?:'d|'?ed|'?ing|'ing)?(?=[\s.,!?]|$)"), "overdose"),
    (re.compile(r"\bsewer[\s\-]*slid\w*"), "unalive"),
    (re.compile(r"\bun[\s\-]+aliv(e|ed|ing)\b"), r"unaliv\1"),
    (re.compile(r"\b9[\s\-]?1[\s\-]?1\b"), "911"),
    (re.compile(r"\bcan\s+t\b"), "cant"),
    (re.compile(r"\bi\s*m\b"), "im"),
)
_STRETCHED = re.compile(r"([a-z])\1\1")
_LEET = str.maketrans({"1": "i", "3": "e", "0": "o", "4": "a", "5": "s", "@": "a"})

# Misspellings and slang, mapped to the canonical form the rules use.
# fmt: off
VARIANTS = {
    # intent
    "wanna": "want", "wana": "want", "wnt": "want", "whant": "want", "wants": "want",
    "gonna": "going", "gona": "going", "gunna": "going", "finna": "going",
    "imma": "going", "ima": "going", "goin": "going", "tryna": "trying",
    # kill
    "kil": "kill", "kll": "kill", "kiil": "kill", "klil": "kill", "kils": "kills",
    "killin": "killing", "kiling": "killing", "kilin": "killing", "killng": "killing",
    "kiled": "killed",
    # myself
    "myslef": "myself", "mysef": "myself", "mself": "myself", "meself": "myself",
    "mysefl": "myself", "myelf": "myself", "mysel": "myself", "maself": "myself",
    "myslf": "myself", "msyelf": "myself", "myselff": "myself", "mysself": "myself",
    # suicide and slang for it
    "suicidio": "suicide", "suicida": "suicide", "suicidarme": "suicide",
    "suicidarse": "suicide", "suicidar": "suicide", "suicidal": "suicide",
    "suicidial": "suicide", "suicidally": "suicide", "unalive": "unalive",
    "unalived": "unalive", "unaliving": "unalive", "unalivin": "unalive",
    "selfdelete": "unalive", "selfdeleting": "unalive", "kms": "kms", "kmn": "kms",
    "ctb": "kms",
    # die
    "dieing": "dying", "dyin": "dying", "diein": "dying", "dieng": "dying",
    "ded": "dead", "daed": "dead", "di": "die",
    # overdose
    "overdosed": "overdose", "overdosing": "overdose", "overdoses": "overdose",
    "ovrdose": "overdose", "overdoze": "overdose", "ovedose": "overdose",
    "oded": "overdose", "oding": "overdose", "sobredosis": "overdose",
    "sobredosi": "overdose",
    # self-harm
    "selfharm": "selfharm", "selfharming": "selfharm", "selfharmed": "selfharm",
    "selfinjury": "selfharm", "selfinjure": "selfharm", "selfinjuring": "selfharm",
    "autolesion": "selfharm", "autolesiones": "selfharm", "autolesionarme": "selfharm",
    "cuting": "cutting", "cuttin": "cutting", "cutt": "cut",
    # breathing
    "breath": "breathe", "breth": "breathe", "brethe": "breathe", "breate": "breathe",
    "brathe": "breathe", "breahte": "breathe", "breathin": "breathing",
    "breating": "breathing", "brething": "breathing", "breahting": "breathing",
    "breatheing": "breathing",
    # negation spelled without apostrophes
    "dnt": "not", "dont": "not", "cnt": "not", "cant": "not", "cannot": "not",
    "aint": "not", "wont": "not", "didnt": "not", "doesnt": "not", "isnt": "not",
    "im": "am", "m": "am",
    # Spanish SMS spellings
    "kiero": "quiero", "kiere": "quiere", "ke": "que", "q": "que", "aki": "aqui",
    "kisiera": "quisiera", "nadien": "nadie", "xq": "porque",
    # SMS shorthand
    "2": "to", "ur": "your", "urself": "yourself", "rn": "now",
    # Spanish
    "matarm": "matarme", "matame": "matenme", "mateme": "matenme",
    "morirm": "morirme", "dano": "dano", "danio": "dano",
    "pastiyas": "pastillas", "pastias": "pastillas",
}
# fmt: on
# Long crisis words matched with one typo; the canonical form is the value.
FUZZY_TARGETS = {
    "suicide": "suicide",
    "suicidal": "suicide",
    "suicidio": "suicide",
    "suicidarme": "suicide",
    "myself": "myself",
    "overdose": "overdose",
    "overdosed": "overdose",
    "overdosing": "overdose",
    "sobredosis": "overdose",
    "unalive": "unalive",
    "breathe": "breathe",
    "breathing": "breathing",
    "respirar": "respirar",
    "matarme": "matarme",
}
# Real words one typo away from a fuzzy target, kept as they are.
# fmt: off
NOT_TYPOS = frozenset(
    {"overdue", "overdo", "overdoes", "overdone", "overdoing", "matarte", "mataron",
     "breadth", "breaths", "mysterious", "respiran", "respirator"}
)
# fmt: on


def _canonical(word: str) -> str:
    """Return the canonical form of one folded token."""
    if any(ch.isdigit() for ch in word) and any(ch.isalpha() for ch in word):
        if not re.fullmatch(r"\d+(st|nd|rd|th|am|pm|s|k|x)?", word):
            word = word.translate(_LEET)
    forms = [word]
    if _STRETCHED.search(word):
        # "dieeee" -> "die", "killlll" -> "kill"; only for letters typed three
        # or more times, so "good" never folds to "god".
        forms += [squeeze(word, keep=2), squeeze(word, keep=1)]
    for form in forms:
        if form in VARIANTS:
            return VARIANTS[form]
        if form in FUZZY_TARGETS:
            return FUZZY_TARGETS[form]
        if form in _pattern_vocabulary():
            return form
    word = squeeze(word, keep=2)
    if len(word) >= 5 and word.isalpha() and word not in NOT_TYPOS:
        near = closest(word, FUZZY_TARGETS, max_distance=1)
        if near is not None:
            return FUZZY_TARGETS[near]
    return word


def _normalized_doc(text: str):
    folded = fold(text)
    for pattern, replacement in _JOINS:
        folded = pattern.sub(replacement, folded)
    doc = make_doc(folded, "en")
    for token in doc:
        if token.is_space or token.is_punct:
            continue
        token.norm_ = _canonical(token.norm_)
    return doc


# --- rules --------------------------------------------------------------------

# Word sets used in patterns as @NAME (canonical forms).
# fmt: off
SETS = {
    "MYSELF": ["myself", "meself", "ourselves", "himself", "herself", "themselves",
               "themself"],
    "ADV": ["really", "even", "just", "still", "truly", "honestly", "seriously",
            "literally", "kinda", "actually", "finally", "simply", "totally"],
    "NOT": ["not", "no", "never", "nt", "nunca"],
    "WANT": ["want", "wanted", "wish", "wishing", "need", "hope", "pray", "ready",
             "trying", "try", "tried", "going", "gon", "plan", "planning", "thinking",
             "deserve", "rather", "should", "gotta"],
    "KILL": ["kill", "kills", "killed", "killing"],
    "SUICIDE_WORD": ["suicide", "unalive", "kms"],
    "DIE": ["die", "dead", "dying", "died"],
    "LIFE_OBJECT": ["live", "living", "alive", "exist", "existing", "here", "around",
                    "breathing"],
    "PERSON": ["he", "she", "they", "husband", "wife", "boyfriend", "girlfriend",
               "bf", "gf", "partner", "ex", "dad", "father", "mom", "mother", "son",
               "daughter", "brother", "sister", "someone", "somebody", "roommate",
               "landlord", "caregiver", "neighbor", "neighbour", "man", "guy",
               "hubby", "spouse", "uncle", "stepdad", "stepfather", "cousin",
               "people", "nephew", "grandson", "fiance", "baby", "babydaddy",
               "pimp", "stranger"],
    "ABUSE_VERB": ["hits", "hit", "hitting", "beats", "beat", "beating", "hurts",
                   "hurt", "hurting", "chokes", "choked", "choking", "strangled",
                   "strangling", "abuses", "abused", "abusing", "raped", "rapes",
                   "attacked", "attacking", "punched", "punches", "punching",
                   "kicked", "kicks", "kicking", "slapped", "slaps", "threatens",
                   "threatened", "threatening", "stalking", "stalks", "following",
                   "killing", "stabbed", "shot", "pushed", "shoved", "grabbed",
                   "molested", "molesting", "touching", "locked", "trapped"],
    "VIOLENT_VERB": ["kill", "hurt", "beat", "shoot", "stab", "strangle", "choke",
                     "hit", "rape", "attack", "murder", "harm", "punch", "end"],
    "THREAT_LEAD": ["going", "gon", "will", "wants", "want", "threatened",
                    "threatens", "threatening", "tried", "trying", "try", "says",
                    "said", "plans", "planning", "gonna", "promised", "swore",
                    "swears", "afraid", "scared"],
    "OTHERS": ["him", "her", "them", "someone", "somebody", "everyone",
               "everybody", "people", "you", "ya", "y'all", "yall", "u",
               "husband", "wife", "boyfriend", "girlfriend", "landlord",
               "neighbor", "neighbour", "boss", "dad", "mom", "roommate", "kids",
               "family", "anybody", "anyone", "ex", "staff", "doctor", "nurse",
               "cops", "police", "sister", "brother", "son", "daughter", "man", "guy"],
    "ME": ["me", "us", "kids", "children", "baby"],
    "SELF_HURT_VERB": ["cut", "cutting", "cuts", "burn", "burning", "burned", "burnt",
                       "hurt", "hurting", "hurts", "harm", "harming", "harmed", "hit",
                       "hitting", "punch", "punching", "scratch", "scratching",
                       "starve", "starving", "starved", "punish", "punishing", "bang",
                       "banging", "injure", "injuring", "injured", "stab", "stabbing",
                       "bruise", "bite", "biting", "carve", "carving", "mutilate"],
    "SUICIDE_VERB": ["kill", "kills", "killed", "killing", "hang", "hanging",
                     "shoot", "shooting", "drown", "drowning", "poison", "poisoning",
                     "off", "offing", "end", "ending", "suffocate", "electrocute",
                     "gas", "strangle", "strangling"],
    "END": ["end", "ending", "ended", "take", "taking", "took", "finish",
            "terminate", "quit"],
    "TAKE": ["took", "take", "taking", "taken", "swallowed", "swallow", "swallowing",
             "ate", "eat", "eating", "popped", "pop", "popping", "drank", "drink",
             "drinking", "used", "using", "injected", "shot", "snorted", "smoked"],
    "PILLS": ["pills", "pill", "pils", "pillz", "meds", "med", "medication",
              "medications", "medicine", "medicines", "tablets", "tablet", "xanax",
              "xans", "oxy", "oxys", "oxycodone", "percs", "percocet", "percocets",
              "tylenol", "advil", "insulin", "fentanyl", "fent", "heroin",
              "opioids", "opiates", "painkillers", "sleeping", "benadryl",
              "lithium", "ambien", "klonopin", "methadone", "morphine", "meth",
              "dope", "drugs", "pastillas", "pildoras", "medicinas",
              "medicamentos", "medicina"],
    "QUANTITY": ["bottle", "handful", "bunch", "box", "pack", "whole", "entire",
                 "all", "lot", "lots", "bottles", "dozen", "extra"],
    "POISON": ["bleach", "poison", "antifreeze", "cleaner", "drano", "lye",
               "cloro", "veneno", "blanqueador", "lejia", "raticida"],
    "CAN": ["can", "could", "ca", "able"],
    "EMERGENCY_EVENT": ["stroke", "seizure", "seizures", "aneurysm", "asthma",
                        "allergic", "diabetic", "panic"],
    "TAKE_DOSE": ["took", "taken", "swallowed", "popped", "downed", "used",
                  "injected", "snorted", "shot", "overdid", "ate", "chugged"],
    # Spanish
    "ES_FIRST_INTENT": ["quiero", "voy", "quisiera", "deseo", "ganas", "pienso",
                        "prefiero", "intente", "intento", "necesito", "puedo",
                        "planeo", "gustaria", "dan", "tengo"],
    "ES_THIRD_INTENT": ["va", "van", "quiere", "quieren", "amenaza", "amenazo",
                        "amenazando", "intento", "trato", "dijo", "dice", "puede"],
    "ES_DIE": ["morir", "morirme", "muerto", "muerta", "muertos", "muerte"],
    "ES_LIVE": ["vivir", "viviendo", "existir", "despertar", "aqui", "vida", "viva",
                "vivo"],
    "ES_ABUSE_VERB": ["pega", "pego", "pegando", "golpea", "golpeo", "golpeando",
                      "golpeado", "maltrata", "maltrato", "maltratando", "amenaza",
                      "amenazo", "amenazando", "ahorca", "ahorco", "ahorcando",
                      "viola", "violo", "lastima", "patea", "pateo", "abusa",
                      "abuso", "abusando", "empuja", "empujo", "encierra",
                      "acosa", "persigue", "jala", "cachetea", "viola", "ahorco"],
    "ES_AUX": ["estoy", "estaba", "voy", "quiero", "he", "volvi", "sigo", "puedo",
               "a", "de", "esta", "sigue", "vuelve", "ha", "quiere", "va"],
    "ES_VIOLENT_VERB": ["matar", "matarme", "pegar", "pegarme", "golpear",
                        "golpearme", "lastimar", "lastimarme", "hacer", "hacerme",
                        "ahorcar", "ahorcarme", "violar", "apunalar", "disparar",
                        "matarnos", "quemar"],
    "ES_OTHERS_VERB": ["matarlo", "matarla", "matarlos", "matarlas", "matarte",
                       "lastimarlo", "lastimarla", "lastimarte", "golpearlo",
                       "golpearla", "dispararle",
                       "apunalarlo", "apunalarla", "ahorcarlo", "ahorcarla"],
    "ES_OTHERS": ["alguien", "todos", "el", "ella", "ellos", "mi", "mis", "tu",
                  "usted", "ustedes", "nadie", "gente"],
    "ES_SELF_HURT": ["lastimo", "lastime", "lastimar", "lastimando", "corto",
                     "corte", "cortando", "cortar", "quemo", "queme", "quemando",
                     "golpeo", "pego", "hago", "hice", "haciendo", "hacer",
                     "rasguno", "rasgunando"],
    "ES_CUT_OBJECT": ["venas", "vena", "brazos", "brazo", "muneca", "munecas",
                      "piernas", "pierna", "piel", "muslos", "muslo", "otra",
                      "nuevo", "proposito"],
    "ES_TAKE": ["tome", "trague", "tragado", "tomado", "bebi", "tomaste", "meti",
                "inyecte", "consumi"],
    "ES_QUANTITY": ["muchas", "demasiadas", "demasiado", "demasiada", "todas",
                    "frasco", "bote", "monton", "caja", "muchisimas", "montones",
                    "puno"],
    "ES_BREATHE": ["respirar", "respira", "respiro", "respirando"],
    "ES_EMERGENCY_EVENT": ["derrame", "infarto", "ataque", "embolia", "convulsion",
                           "convulsiones", "paro"],
}
# fmt: on


@dataclass(frozen=True)
class Rule:
    """One crisis pattern.

    Attributes:
        name: stable id, reported in `CrisisMatch.rule`.
        category: one of `CATEGORIES`.
        language: language of the wording ("en" or "es"), used when the words
            of the message do not decide it.
        pattern: a token pattern in the notation of
            `bot.nlp.pattern_from_spec`, with word sets from `SETS`.
        priority: the highest priority wins when several rules fire, so "he's
            going to kill me" is violence although "kill me" alone is suicide.
        unless_next: the match is ignored when the next token is one of these.
        unless_prev: the match is ignored when the previous token is one of these.
        only_next: when set, the next token must be one of these or absent.
        min_number: when set, a number in the match ("#NUM") must be at least
            this, so "took 30 pills" fires and "took 2 tylenol" does not.
    """

    name: str
    category: str
    language: str
    pattern: str
    priority: int = 0
    unless_next: frozenset = frozenset()
    unless_prev: frozenset = frozenset()
    only_next: frozenset | None = None
    min_number: int | None = None


def _words(*words: str) -> frozenset:
    return frozenset(words)


# fmt: off
_LIVE_PLACES = _words("there", "in", "with", "at", "alone", "here", "on", "by", "near",
                      "independently", "like", "together", "without", "inside",
                      "outside", "anywhere", "somewhere", "where")
_SERVICE_WORDS = _words("room", "rooms", "department", "dept", "visits", "visit",
                        "services", "service", "care", "contact", "contacts",
                        "number", "numbers", "plan", "fund", "kit", "shelter",
                        "housing", "medi", "medical", "bag", "assistance", "?")
_SEND_WORDS = _words("an", "a", "the", "email", "text", "message", "mail", "line",
                     "note", "dm", "call", "pic", "picture", "photo", "shot", "up",
                     "back", "with")
_HAIR_WORDS = _words("el", "pelo", "cabello", "unas", "flequillo", "barba", "fleco")
_ABUSE_VERBS_OBJECT = ("hits|hit|hitting|beats|beat|beating|hurts|hurt|hurting|chokes|"
                       "choked|choking|strangled|strangling|strangles|abuses|abused|"
                       "abusing|raped|rapes|raping|attacked|attacking|attacks|punched|"
                       "punches|punching|kicked|kicks|kicking|slapped|slaps|slapping|"
                       "threatens|threatened|threatening|stalking|stalks|following|"
                       "killing|stabbed|shot|pushed|pushes|shoved|shoves|grabbed|"
                       "molested|molesting|touching|touched|touches|burned|bit|smacked|"
                       "smacks|smacking|whipped|beaten|tied|locked|trapping|raping")

RULES = (
    # --- suicide, English ---
    Rule("suicide.word", "suicide", "en", "@SUICIDE_WORD", 1),
    Rule("suicide.kill_myself", "suicide", "en", "@SUICIDE_VERB ?@ADV @MYSELF", 1),
    Rule("suicide.end_my_life", "suicide", "en",
         "@END my|his|her|their|own ?own life|lives", 1),
    Rule("suicide.end_it_all", "suicide", "en",
         "end|ending|finish|finishing it|everything|things all", 1),
    Rule("suicide.want_end_it", "suicide", "en",
         "@WANT ?to|about|of ?@ADV end|ending it|everything|things|this|myself", 1,
         unless_next=_words("chat", "conversation", "call", "screening", "form",
                            "survey", "questions", "with", "lease", "program")),
    Rule("suicide.want_to_die", "suicide", "en",
         "@WANT ?to ?i ?@ADV ?to ?be ?@ADV die|dead", 1,
         unless_next=_words("my", "your", "her", "his", "the", "for", "of", "tired"),
         unless_prev=_words("is", "'s", "s", "are", "phone", "battery", "plant",
                            "plants")),
    Rule("suicide.wish_dead", "suicide", "en",
         "wish|rather|prefer ~ ~ ?be ?@ADV dead|die", 1),
    Rule("suicide.never_born", "suicide", "en", "wish ~ ~ ?@ADV never born|existed", 1),
    Rule("suicide.better_off_dead", "suicide", "en", "better ?off dead|gone", 1),
    Rule("suicide.better_without_me", "suicide", "en",
         "better ?off without me|us", 1),
    Rule("suicide.no_will_to_live", "suicide", "en",
         "@NOT ?@ADV want|wish|feel ?like ?to ?@ADV ?be @LIFE_OBJECT", 1,
         unless_next=_LIVE_PLACES | _words("early", "late", "today", "for")),
    Rule("suicide.not_wake_up", "suicide", "en",
         "@NOT ?@ADV want|wish ?to ?ever wake up|awake", 1,
         unless_next=_words("early", "at", "in", "before", "so", "this", "on", "for")),
    Rule("suicide.never_wake_up", "suicide", "en",
         "sleep ?and never|not ?~ wake up", 1),
    Rule("suicide.no_point_anymore", "suicide", "en",
         "no|not ?~ point ?to ?~ anymore|trying|living", 1),
    Rule("suicide.no_reason_to_live", "suicide", "en",
         "no|nothing|zero|any reason|reasons|purpose|will ?in|to|for|of live|living|"
         "life", 1),
    Rule("suicide.nothing_to_live_for", "suicide", "en",
         "nothing ?left to live for", 1),
    Rule("suicide.reason_to_keep_living", "suicide", "en",
         "reason|reasons|point|purpose ?to|for|in|of keep|continue|go|going "
         "living|on", 1),
    Rule("suicide.if_i_was_gone", "suicide", "en",
         "if i ?am was|were|am|wasnt|werent|died ?not gone|dead|here|around|alive", 1,
         unless_next=_words("for", "at", "in", "when", "on", "today", "tomorrow",
                            "to", "with")),
    Rule("suicide.nobody_would_care", "suicide", "en",
         "no|nobody|noone ?one would|will ?even care|notice|miss ?me", 1,
         unless_next=_words("about", "if", "that", "what", "the", "my", "which")),
    Rule("suicide.not_in_this_world", "suicide", "en",
         "@NOT ?@ADV want ?to be|stay|live in this world", 1),
    Rule("suicide.point_of_living", "suicide", "en",
         "point ?in|of|to living|life|existing|live", 1),
    Rule("suicide.not_worth_living", "suicide", "en",
         "not ?even worth living|it|anything", 1,
         unless_prev=_words("is", "'s", "s", "price", "money", "cost", "trip", "wait")),
    Rule("suicide.life_not_worth", "suicide", "en",
         "life ?is not|never ?@ADV worth", 1),
    Rule("suicide.tired_of_living", "suicide", "en",
         "tired|sick|done|finished ?of|with living|life|existing", 1),
    Rule("suicide.hate_my_life", "suicide", "en", "hate my life|self|existence", 1),
    Rule("suicide.cant_go_on", "suicide", "en", "?@CAN not go|keep on|going", 1,
         only_next=_words("anymore", "like", "living", "any", "no", "this", "much")),
    Rule("suicide.cant_anymore", "suicide", "en",
         "?@CAN not do|take|handle|stand|bear|live it|this|that|life|anything|"
         "everything|any ?more|longer|anymore",
         1),
    Rule("suicide.cant_live_like_this", "suicide", "en",
         "?@CAN not live|go ?on like this", 1),
    Rule("suicide.disappear", "suicide", "en",
         "@WANT ?to ?@ADV disappear|vanish", 1,
         only_next=_words("forever", "for", "now", "completely")),
    Rule("suicide.jump_off", "suicide", "en",
         "jump|jumping|jumped off|from|in ?a|the|of ?~ bridge|building|roof|cliff|"
         "balcony|train|overpass|window|front",
         1),
    Rule("suicide.slit_wrists", "suicide", "en",
         "slit|slitting|slice|slash|slashing|cut ?my wrists|wrist|throat", 2),
    Rule("suicide.kill_me", "suicide", "en",
         "?please|just|somebody|someone|god kill me",
         0, unless_prev=_words("to", "will", "gonna", "gon", "going", "would", "could",
                               "might", "'ll", "ll", "d", "'d", "not")),
    Rule("suicide.goodbye_forever", "suicide", "en", "goodbye|bye forever", 1),
    Rule("suicide.goodbye_cruel_world", "suicide", "en", "cruel world", 1),
    Rule("suicide.pills_to_die", "suicide", "en",
         "@PILLS|rope|gun ?to ?@ADV end|die", 1),
    # --- suicide, Spanish ---
    Rule("suicide.es.matarme", "suicide", "es", "matarme|matenme", 1,
         unless_next=_words("el", "la", "los", "las", "de", "esto", "eso",
                            "trabajando")),
    Rule("suicide.es.me_matar", "suicide", "es",
         "me|se ?ya ?@ES_FIRST_INTENT ?de ?a matar|mato|ahorcar|colgar|envenenar|"
         "aventar",
         1),
    Rule("suicide.es.no_despertar", "suicide", "es",
         "dormir|dormirme ?~ ?y no ?volver ?a despertar|despertarme", 1),
    Rule("suicide.es.me_mato", "suicide", "es", "me mato", 1,
         unless_next=_words("trabajando", "de", "la", "el", "con")),
    Rule("suicide.es.quitarme_vida", "suicide", "es",
         "quitarme|quitar|quitarse|quite|quito ?me ?la|mi vida", 2),
    Rule("suicide.es.acabar_vida", "suicide", "es",
         "acabar|terminar|acabo|termino|acabe|termine con mi|todo ?vida", 1),
    Rule("suicide.es.want_die", "suicide", "es",
         "?me @ES_FIRST_INTENT ?de ?a ?estar @ES_DIE", 1),
    Rule("suicide.es.ojala_muerto", "suicide", "es", "ojala|mejor ?~ ?~ @ES_DIE", 1,
         unless_prev=_words("el", "la", "lo")),
    Rule("suicide.es.no_quiero_vivir", "suicide", "es",
         "no ?~ quiero|deseo|puedo ?~ @ES_LIVE", 1,
         unless_next=_words("ahi", "alla", "en", "con", "solo", "sola", "aqui", "cerca",
                            "alli", "sin", "bien", "tranquila", "tranquilo", "mal",
                            "lejos", "ahora")),
    Rule("suicide.es.no_puedo_seguir", "suicide", "es",
         "no ?~ quiero|puedo seguir ?asi", 1,
         only_next=_words("viviendo", "asi", "mas", "adelante", "aqui")),
    Rule("suicide.es.no_vale_vivir", "suicide", "es", "vale ?la ?pena vivir|seguir", 1),
    Rule("suicide.es.este_mundo", "suicide", "es",
         "no ?~ quiero|deseo ?seguir|estar|vivir en este mundo", 1),
    Rule("suicide.es.nadie_extranaria", "suicide", "es",
         "nadie me|lo|la ?~ extranaria|notaria|importaria|buscaria|echaria|extranara",
         1),
    Rule("suicide.es.para_no_despertar", "suicide", "es",
         "para|y no ?volver ?a despertar|despertarme", 1),
    Rule("suicide.es.vida_sin_sentido", "suicide", "es",
         "vida no tiene ?ningun sentido", 1),
    Rule("suicide.es.sin_razon", "suicide", "es",
         "razon|razones|motivo|motivos|nada|nadie para|por ?que|quien ?~ vivir", 1),
    Rule("suicide.es.cansado_vivir", "suicide", "es",
         "cansado|cansada|harto|harta ?de vivir|vida|existir", 1),
    Rule("suicide.es.no_puedo_mas", "suicide", "es",
         "no ?~ puedo|aguanto|soporto mas", 1),
    Rule("suicide.es.ya_no_aguanto", "suicide", "es", "ya no aguanto|soporto", 1),
    Rule("suicide.es.desaparecer", "suicide", "es",
         "@ES_FIRST_INTENT desaparecer|morirme", 1),
    Rule("suicide.es.ahorcarme", "suicide", "es",
         "ahorcarme|colgarme|ahorcarse|envenenarme|aventarme", 1),
    Rule("suicide.es.tiro", "suicide", "es", "pegarme|darme un tiro|balazo", 1),
    Rule("suicide.es.venas", "suicide", "es",
         "cortarme|cortar|corte|corto|cortando ?~ las venas", 2),
    Rule("suicide.es.tirarme", "suicide", "es",
         "tirar|tirarme|aventar|aventarme|lanzar|lanzarme ?de|del|desde|al|a|bajo|"
         "frente ?un|una|el|la|del|al|de ?~ puente|edificio|techo|tren|carro|metro|"
         "balcon|azotea",
         2),
    # --- self-harm ---
    Rule("self_harm.hurt_myself", "self_harm", "en",
         "@SELF_HURT_VERB ?@ADV @MYSELF", 1),
    Rule("self_harm.word", "self_harm", "en", "selfharm", 1),
    Rule("self_harm.cut_body", "self_harm", "en",
         "cut|cutting|cuts|burn|burning|carve|carving ?my|on ?my arms|arm|legs|leg|"
         "thighs|thigh|skin|wrists|stomach|body",
         1),
    Rule("self_harm.cutting_again", "self_harm", "en",
         "cutting|selfharm again|relapse|relapsed", 1),
    Rule("self_harm.relapse_cutting", "self_harm", "en",
         "relapse|relapsed|started|urge|urges ?on|with|to ?~ cutting|cut", 1),
    Rule("self_harm.want_cut", "self_harm", "en",
         "@WANT ?to ?@ADV cut|cutting", 1,
         only_next=_words("again", "myself", "tonight", "now", "so")),
    Rule("self_harm.es.hacerme_dano", "self_harm", "es", "hacerme|hacerse dano", 1),
    Rule("self_harm.es.me_hago_dano", "self_harm", "es",
         "me ?@ES_AUX ?@ES_AUX @ES_SELF_HURT dano", 1),
    Rule("self_harm.es.lastimarme", "self_harm", "es",
         "lastimarme|cortarme|quemarme|golpearme|autolesionarme", 1,
         unless_next=_HAIR_WORDS),
    Rule("self_harm.es.me_corto", "self_harm", "es",
         "me ?@ES_AUX ?@ES_AUX lastimo|lastime|lastimando|lastimar|corto|corte|"
         "cortando|cortar|quemo|quemando",
         1, unless_next=_HAIR_WORDS | _words("la", "los", "mi", "un", "una")),
    Rule("self_harm.es.me_corto_body", "self_harm", "es",
         "me ?@ES_AUX ?@ES_AUX corto|corte|cortando|cortar|quemo|quemando ?los|las|la|"
         "el|mis|a|de @ES_CUT_OBJECT",
         1),
    # --- overdose ---
    Rule("overdose.word", "overdose", "en", "overdose", 1),
    Rule("overdose.too_many", "overdose", "en", "@TAKE_DOSE ?way too|so many|much", 1,
         unless_next=_words("time", "money", "effort", "energy", "space", "work",
                            "long", "paperwork", "steps", "forms", "questions",
                            "calls", "sugar", "salt", "coffee", "food", "junk",
                            "sun")),
    Rule("overdose.all_pills", "overdose", "en",
         "@TAKE_DOSE ?a|the|all|my|his|her @QUANTITY ?@QUANTITY ?of ?my|the|those|"
         "these|his|her|of ?~ @PILLS",
         1, unless_next=_words("as", "like", "on", "every", "each", "with", "at")),
    Rule("overdose.intent_pills", "overdose", "en",
         "going|gon|want|planning|plan|thinking|gonna ?to|about|of ?@ADV take|swallow|"
         "down|pop|taking|swallowing ?a|the|all|my|his|her @QUANTITY ?@QUANTITY ?of "
         "?my|the|those|these|his|her|of ?~ @PILLS",
         1, unless_next=_words("to", "on", "in", "at", "with", "every", "each", "as")),
    Rule("overdose.whole_bottle", "overdose", "en",
         "@TAKE_DOSE ?a|the ?whole|entire|full bottle|box|pack", 1),
    Rule("overdose.poison", "overdose", "en",
         "@TAKE_DOSE|drank|drink|drinking|ate ?some|the|a ?~ @POISON", 1),
    Rule("overdose.narcan", "overdose", "en", "narcan|naloxone", 1),
    Rule("overdose.took_number", "overdose", "en",
         "@TAKE_DOSE ?like|about|around|over|maybe #NUM ?~ ?of ?my|the|his|her ?~ "
         "@PILLS", 1,
         min_number=8),
    Rule("overdose.es.pastillas", "overdose", "es",
         "?me @ES_TAKE ?~ @ES_QUANTITY ?de ?~ ?~ pastillas|pildoras|medicinas|"
         "medicamentos|medicina|pastilla",
         1),
    Rule("overdose.es.intent_pastillas", "overdose", "es",
         "quiero|voy|pienso|quisiera ?a tomarme|tragarme|tomar|tragar ?~ @ES_QUANTITY "
         "?de ?~ ?~ pastillas|pildoras|medicinas|medicamentos|pastilla",
         1),
    Rule("overdose.es.se_tomo", "overdose", "es",
         "se tomo|trago ?~ @ES_QUANTITY", 1),
    Rule("overdose.es.demasiado", "overdose", "es",
         "?me|se @ES_TAKE|tomo ?~ demasiado|demasiadas|demasiada|muchisimas", 1),
    Rule("overdose.es.veneno", "overdose", "es", "@ES_TAKE|tomo ?~ @POISON", 1),
    Rule("overdose.es.numero", "overdose", "es",
         "?me|se @ES_TAKE|tomo ?como|unas|unos|mas #NUM ?de pastillas|pildoras|"
         "medicinas|pastilla",
         1, min_number=8),
    # --- violence ---
    Rule("violence.threat_to_me", "violence", "en",
         "@THREAT_LEAD ?~ ?to ?~ @VIOLENT_VERB ?my|the|our @ME", 2),
    Rule("violence.abuse", "violence", "en",
         f"@PERSON ?~ ?~ {_ABUSE_VERBS_OBJECT} me|us", 2),
    Rule("violence.beat_me_up", "violence", "en", "beat|beats|beating me up", 2),
    Rule("violence.hurt_others", "violence", "en",
         "@VIOLENT_VERB ?my|his|her|that|the|this|your|our @OTHERS", 1,
         unless_next=_SEND_WORDS,
         unless_prev=_words("never", "wouldn't", "wouldnt", "would", "does", "it",
                            "that", "this")),
    Rule("violence.scared_of_person", "violence", "en",
         "scared|afraid|terrified ?~ of my|her|his ?ex @PERSON", 2),
    Rule("violence.kys", "violence", "en", "kys|kyfs", 1),
    Rule("violence.kill_yourself", "violence", "en",
         "kill|hang|shoot ?@ADV yourself|urself|yourselves|yourselfs", 1),
    Rule("violence.abusive_person", "violence", "en", "abusive", 1),
    Rule("violence.domestic", "violence", "en", "domestic violence|abuse|abuser", 2),
    Rule("violence.being_abused", "violence", "en",
         "being|been|getting abused|beaten|raped|attacked|assaulted|trafficked|"
         "molested", 2),
    Rule("violence.abusive", "violence", "en",
         "abusive|violent husband|partner|boyfriend|relationship|wife|girlfriend|ex|"
         "man|home|son|father|dad",
         2),
    Rule("violence.weapon", "violence", "en",
         "has|pulled|pointing|pointed|grabbed|holding|waving ?out ?a|his|her|the gun|"
         "knife|weapon|pistol",
         2),
    Rule("violence.fear_for_life", "violence", "en",
         "afraid|scared|fear|fearing|fearful ?for ?~ my|our life|lives", 2),
    Rule("violence.not_safe", "violence", "en", "i|am|feel|do not ?feel safe", 1,
         only_next=_words("here", "with", "around", "now", "right", "anymore", "home",
                          "at")),
    Rule("violence.someone_broke_in", "violence", "en",
         "someone|somebody|man|guy|intruder broke|breaking ?into|in", 2),
    Rule("violence.es.me_pega", "violence", "es", "me ?@ES_AUX @ES_ABUSE_VERB", 2,
         unless_next=_words("la", "el", "gripa", "gripe", "covid", "resfriado", "mucho",
                            "los", "las", "mi")),
    Rule("violence.es.me_va_a_matar", "violence", "es",
         "me @ES_THIRD_INTENT ?a|con|en @ES_VIOLENT_VERB", 2),
    Rule("violence.es.va_a_matarme", "violence", "es",
         "@ES_THIRD_INTENT ?a|con matarme|pegarme|golpearme|lastimarme|ahorcarme|"
         "violarme",
         2),
    Rule("violence.es.matarlo", "violence", "es", "@ES_OTHERS_VERB", 1,
         unless_next=_words("el", "la", "tiempo", "rato")),
    Rule("violence.es.hacerle_dano", "violence", "es",
         "hacerle|hacerles|hacerte dano", 1),
    Rule("violence.es.matar_a", "violence", "es",
         "matar|lastimar|golpear|herir|apunalar a @ES_OTHERS", 1),
    Rule("violence.es.lo_voy_a_matar", "violence", "es",
         "lo|la|los|las|le|les|te voy|vamos|quiero|van ?a matar|lastimar|golpear|pegar|"
         "ahorcar",
         1),
    Rule("violence.es.violencia", "violence", "es", "violencia domestica|familiar", 2),
    Rule("violence.es.abusa", "violence", "es",
         "abusa|abusando|abuso|abusaba ?sexualmente de mi", 2),
    Rule("violence.es.que_me_mate", "violence", "es",
         "que me mate|maten|pegue|golpee", 2),
    Rule("violence.es.arma", "violence", "es",
         "tiene|trae|saco|saca ?una|un pistola|arma|cuchillo|navaja", 2),
    Rule("violence.es.miedo_persona", "violence", "es",
         "miedo a|de mi ?ex esposo|novio|pareja|esposa|novia|papa|padre|hijo|padrastro|"
         "ex",
         2),
    Rule("violence.es.peligro", "violence", "es",
         "estoy|estamos|corro|corremos en ?~ peligro", 2),
    # --- medical emergency ---
    Rule("medical.chest_pain", "medical_emergency", "en",
         "chest ?is|feels ?@ADV ?really|so|very pain|pains|hurts|hurting|pressure|"
         "tightness|tight|killing|heavy|pounding|crushing|burning",
         1),
    Rule("medical.pain_in_chest", "medical_emergency", "en",
         "pain|pressure|tightness|squeezing in|on ?my|the chest", 1),
    Rule("medical.cant_breathe", "medical_emergency", "en",
         "?@CAN not breathe|breathing", 1,
         unless_next=_words("through")),
    Rule("medical.trouble_breathing", "medical_emergency", "en",
         "hard|trouble|difficulty|struggling|struggle|hardly|barely ?~ ?to breathe|"
         "breathing",
         1),
    Rule("medical.stopped_breathing", "medical_emergency", "en",
         "stopped|stop|quit|not breathing", 1),
    Rule("medical.catch_breath", "medical_emergency", "en",
         "not catch ?my|her|his breathe", 1),
    Rule("medical.gasping", "medical_emergency", "en", "gasping|choking", 1,
         unless_next=_words("on", "hazard", "hazards")),
    Rule("medical.turning_blue", "medical_emergency", "en",
         "turning|lips|face|is blue|purple|gray|grey", 1),
    Rule("medical.having_event", "medical_emergency", "en",
         "having ?a|an ?@ADV @EMERGENCY_EVENT", 1),
    Rule("medical.having_heart_attack", "medical_emergency", "en",
         "having|like|think|feels|'s|is ?~ ?a|an heart attack", 1),
    Rule("medical.event_now", "medical_emergency", "en",
         "@EMERGENCY_EVENT|attack right ?now", 1),
    Rule("medical.signs_of_stroke", "medical_emergency", "en",
         "signs|symptoms of ?a stroke|heart", 1),
    Rule("medical.face_drooping", "medical_emergency", "en",
         "face ?is drooping|droopy|numb|slurring|slurred", 1),
    Rule("medical.slurring", "medical_emergency", "en",
         "slurring|slurred ?his|her|my speech|words", 1),
    Rule("medical.unconscious", "medical_emergency", "en",
         "unconscious|unresponsive|seizing|convulsing|fainted|collapsed", 1,
         unless_next=_words("last", "in", "years", "once", "twice", "a", "lung")),
    Rule("medical.passed_out", "medical_emergency", "en", "passed|blacked out", 1,
         unless_next=_words("last", "in", "years", "once", "twice", "a", "flyers",
                            "from", "after", "when")),
    Rule("medical.wont_wake", "medical_emergency", "en", "not ~ ?~ wake|waking up", 1,
         unless_next=_words("early", "before", "on", "in", "at", "until", "til", "till",
                            "for", "when", "to")),
    Rule("medical.bleeding", "medical_emergency", "en",
         "bleeding ?a|so|too lot|alot|badly|heavily|everywhere|nonstop|bad|much", 1),
    Rule("medical.wont_stop_bleeding", "medical_emergency", "en",
         "not stop bleeding", 1),
    Rule("medical.bleeding_wont_stop", "medical_emergency", "en",
         "bleeding ?~ not stop", 1),
    Rule("medical.severe_bleeding", "medical_emergency", "en",
         "severe|heavy|uncontrolled|uncontrollable bleeding", 1),
    Rule("medical.lot_of_blood", "medical_emergency", "en",
         "lot|lots|much|pool|losing ?of blood", 1,
         unless_next=_words("sugar", "pressure", "work", "tests", "test", "draws")),
    Rule("medical.call_911", "medical_emergency", "en",
         "call|calling|need|get|send|sending|dial ?an|the|a|me|us 911|ambulance|"
         "paramedics|ems",
         1),
    Rule("medical.dying", "medical_emergency", "en", "am|is|are dying", 1,
         unless_next=_words("to", "my", "your", "her", "his", "the", "of", "laughing",
                            "for", "inside", "over", "here", "from")),
    Rule("medical.emergency", "medical_emergency", "en",
         "is|having|have|this|its|medical|an ?a emergency", 0,
         unless_next=_SERVICE_WORDS),
    Rule("medical.throat_closing", "medical_emergency", "en",
         "throat|tongue ?is closing|swelling|swollen", 1),
    Rule("medical.anaphylaxis", "medical_emergency", "en",
         "anaphylaxis|anaphylactic", 1),
    Rule("medical.blood_sugar_low", "medical_emergency", "en",
         "sugar ?is|its|went ?really|very|dangerously|super|so|too low", 1),
    Rule("medical.fell_cant_get_up", "medical_emergency", "en",
         "fell|fallen|fall ?~ ?~ not get|getting up", 1),
    Rule("medical.es.respirar", "medical_emergency", "es",
         "no ?~ ?puedo|puede|podia|deja|dejo|esta ?de @ES_BREATHE", 1,
         unless_next=_words("por")),
    Rule("medical.es.morado", "medical_emergency", "es",
         "poniendo|puso|pone|esta|labios|cara ?~ morado|morada|azul|azules|moradas|"
         "morados",
         1),
    Rule("medical.es.no_puede_hablar", "medical_emergency", "es",
         "no puede|puedo hablar|moverse|mover", 1,
         only_next=_words("y", "ni", "bien", "nada")),
    Rule("medical.es.cuesta_respirar", "medical_emergency", "es",
         "cuesta|dificultad|trabajo|problemas ?~ ?para respirar", 1),
    Rule("medical.es.falta_aire", "medical_emergency", "es",
         "falta|faltando ?el aire", 1),
    Rule("medical.es.ahogo", "medical_emergency", "es",
         "me|se ?@ES_AUX ahogo|ahogando|asfixio|asfixiando", 1),
    Rule("medical.es.dolor_pecho", "medical_emergency", "es",
         "dolor|presion|duele|opresion|dolores|aprieta ?~ ?~ ?~ ?~ pecho", 1),
    Rule("medical.es.pecho_duele", "medical_emergency", "es",
         "pecho ?me ?~ duele|dolor|aprieta|arde|oprime", 1),
    Rule("medical.es.evento", "medical_emergency", "es",
         "dando|teniendo|dio|creo|parece ?~ ?~ ?un|una|al @ES_EMERGENCY_EVENT", 1),
    Rule("medical.es.tiene_evento", "medical_emergency", "es",
         "tiene|tengo|da|tener un|una|al @ES_EMERGENCY_EVENT", 1),
    Rule("medical.es.convulsionando", "medical_emergency", "es",
         "convulsionando|inconsciente|desmayado|desmayada|desmayo|desmaye", 1,
         unless_prev=_words("un", "tuve")),
    Rule("medical.es.no_despierta", "medical_emergency", "es",
         "no despierta|reacciona|respira", 1),
    Rule("medical.es.sangrando", "medical_emergency", "es",
         "sangrando|sangra|sangre ?~ mucho|mucha|muchisimo|sin", 1),
    Rule("medical.es.mucha_sangre", "medical_emergency", "es",
         "mucha|muchisima sangre", 1),
    Rule("medical.es.dejar_sangrar", "medical_emergency", "es",
         "para|deja ?de sangrar", 1),
    Rule("medical.es.911", "medical_emergency", "es",
         "llamen|llama|llamar|necesito|manden|mande|llamo|marquen ?~ ?al|a|una 911|"
         "ambulancia|paramedicos",
         1),
    Rule("medical.es.no_se_levanta", "medical_emergency", "es",
         "cayo|cai|caido|caida ?~ ?y no ?se|me puede|puedo levantar|levantarse|"
         "levantarme",
         1),
    Rule("medical.es.muriendo", "medical_emergency", "es",
         "estoy|esta|estan|se muriendo", 1),
    Rule("medical.es.emergencia", "medical_emergency", "es",
         "es|tengo|hay una emergencia", 0, unless_next=_words("de", "medica", "?")),
)
# fmt: on


_VOCABULARY: frozenset | None = None


def _pattern_vocabulary() -> frozenset:
    """Return every word the rules mention, so stretched spellings can fold to it."""
    global _VOCABULARY
    if _VOCABULARY is None:
        words = set()
        for values in SETS.values():
            words.update(values)
        for rule in RULES:
            words.update(spec_words(rule.pattern))
        _VOCABULARY = frozenset(words)
    return _VOCABULARY


def _build_matcher(nlp):
    from spacy.matcher import Matcher

    matcher = Matcher(nlp.vocab)
    for rule in RULES:
        pattern = pattern_from_spec(rule.pattern, SETS)
        matcher.add(rule.name, [pattern], greedy="LONGEST")
    return matcher


_MATCHER = MatcherCache("en", _build_matcher)
_RULES_BY_NAME = {rule.name: rule for rule in RULES}


def _accepts(rule: Rule, doc, start: int, end: int) -> bool:
    """Apply the rule's context conditions on the tokens around the match."""
    following = [t for t in doc[end:] if not t.is_space]
    next_norm = following[0].norm_ if following and not following[0].is_punct else None
    if next_norm is not None and next_norm in rule.unless_next:
        return False
    if following and following[0].text in rule.unless_next:
        return False
    if rule.only_next is not None and next_norm is not None:
        if next_norm not in rule.only_next:
            return False
    if start > 0:
        previous = doc[start - 1]
        if previous.norm_ in rule.unless_prev or previous.text in rule.unless_prev:
            return False
    if rule.min_number is not None:
        numbers = [t.text for t in doc[start:end] if t.like_num]
        if not any(n.isdigit() and int(n) >= rule.min_number for n in numbers):
            return False
    return True


# --- language -----------------------------------------------------------------

_SPANISH_MARKS = re.compile("[ñáéíóú¿¡]", re.IGNORECASE)
# Folded Spanish stop words that are also everyday English words.
# fmt: off
_NOT_SPANISH_CUES = frozenset(
    {"a", "he", "me", "no", "once", "e", "o", "son", "era", "final", "fin", "sea",
     "dice", "dan", "solo", "mal", "ante", "grande", "gran", "pronto", "total",
     "dia", "dias", "hay", "sin", "te", "mi", "modo", "medio", "embargo", "siete",
     "bien", "misma", "salvo", "mas", "nada", "tan", "casi", "cada"}
)
_EXTRA_SPANISH_CUES = frozenset(
    {"quiero", "voy", "puedo", "estoy", "tengo", "siento", "esposo", "esposa", "mama",
     "hijo", "hija", "vida", "vivir", "morir", "ayuda", "pastillas", "pecho", "dolor",
     "pegando", "matar", "matarme", "respirar", "quisiera", "aguanto", "mas", "ya",
     "mi", "necesito", "gracias", "hola", "casa", "novio", "sangre", "alguien",
     "puede", "esta", "dano", "hacer", "nadie", "todo", "todas", "muchas",
     "demasiadas", "tome", "favor", "porfa", "ahorita", "sobredosis", "suicidio",
     "suicida", "suicidarme", "morirme", "muerto", "muerta", "infarto", "derrame",
     "ambulancia", "emergencia", "sangrando", "cortarme", "lastimarme", "ahogo",
     "desmayo", "convulsiones", "golpea", "pega", "violencia", "peligro", "esposo",
     "quiere", "voy", "va", "vez", "otra", "hijo", "mato", "venas", "aire",
     "despierta", "respira", "duele", "muriendo", "cuchillo", "pistola", "miedo"}
)
_EXTRA_ENGLISH_CUES = frozenset(
    {"want", "wanna", "myself", "kill", "die", "going", "gonna", "cant", "dont",
     "pills", "help", "took", "feel", "life", "live", "please", "breathe", "chest",
     "pain", "hurt", "him", "her", "anymore", "husband", "wife", "mom", "dad",
     "overdose", "suicide", "suicidal", "kms", "unalive", "breathing", "bleeding",
     "stroke", "gun", "knife", "wrists", "cutting", "someone", "dead", "ambulance"}
)
# fmt: on


def _cue_sets() -> tuple[frozenset, frozenset]:
    from spacy.lang.en.stop_words import STOP_WORDS as english
    from spacy.lang.es.stop_words import STOP_WORDS as spanish

    en = {fold(w) for w in english}
    es = {fold(w) for w in spanish}
    shared = en & es
    en_cues = frozenset((en - shared) | _EXTRA_ENGLISH_CUES)
    es_cues = frozenset((es - shared - _NOT_SPANISH_CUES) | _EXTRA_SPANISH_CUES)
    return en_cues, es_cues


_CUES: tuple[frozenset, frozenset] | None = None


def judge_language(text: str, doc=None, fallback: str = "en") -> str:
    """Judge whether `text` is English or Spanish from its words.

    Counts distinctive function words of each language (spaCy's stop word
    lists without the words they share) and gives Spanish two points for an
    accent, ñ, ¿ or ¡.

    Args:
        text: the raw message.
        doc: the already normalized doc, to avoid tokenizing twice.
        fallback: returned on a tie.
    """
    global _CUES
    if _CUES is None:
        _CUES = _cue_sets()
    en_cues, es_cues = _CUES
    if doc is None:
        doc = make_doc(fold(text), "en")
    words = [t.text for t in doc if t.is_alpha]
    english = sum(1 for w in words if w in en_cues)
    spanish = sum(1 for w in words if w in es_cues)
    if _SPANISH_MARKS.search(text):
        spanish += 2
    if english > spanish:
        return "en"
    if spanish > english:
        return "es"
    return fallback


# --- public API ---------------------------------------------------------------


def detect_crisis(text: str) -> CrisisMatch | None:
    """Detect a crisis (suicide, self-harm, overdose, violence, emergency).

    Args:
        text: the member's message, in English or Spanish.

    Returns:
        A `CrisisMatch` without any copy of the text, or None.
    """
    if not text or not text.strip():
        return None
    doc = _normalized_doc(text)
    matcher = _MATCHER.get()

    best: tuple[int, int, int, Rule] | None = None
    for match_id, start, end in matcher(doc):
        rule = _RULES_BY_NAME[matcher.vocab.strings[match_id]]
        if not _accepts(rule, doc, start, end):
            continue
        key = (rule.priority, end - start, -CATEGORIES.index(rule.category), rule)
        if best is None or key[:3] > best[:3]:
            best = key
    if best is None:
        return None

    rule = best[3]
    language = judge_language(text, doc, fallback=rule.language)
    logger.debug("Crisis rule %s fired (%s, %s)", rule.name, rule.category, language)
    return CrisisMatch(category=rule.category, language=language, rule=rule.name)


# --- measurement report -------------------------------------------------------

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CRISIS_TABLE = PROJECT_ROOT / "tests" / "data" / "crisis_phrasings.yml"
ORDINARY_TABLE = PROJECT_ROOT / "tests" / "data" / "ordinary_messages.yml"
REPORT_DOC = PROJECT_ROOT / "docs" / "crisis-detection.md"
REPORT_START = "<!-- measured:start (written by python -m bot.safety --report) -->"
REPORT_END = "<!-- measured:end -->"


def load_table(path: Path, key: str) -> list[dict]:
    """Load the list under `key` from a YAML table in tests/data."""
    import yaml

    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return list(data.get(key) or [])


def measure() -> dict:
    """Measure recall on the crisis tables and false alarms on ordinary messages.

    Returns:
        A dict with counts, rates, and the rows that were missed, fired
        falsely, or got the wrong language.
    """
    results: dict = {}
    for key in ("phrasings", "holdout"):
        rows = load_table(CRISIS_TABLE, key)
        missed, wrong_language, wrong_category = [], [], []
        for row in rows:
            found = detect_crisis(row["text"])
            if found is None:
                missed.append(row)
                continue
            if found.language != row["language"]:
                wrong_language.append((row, found.language))
            if found.category != row["category"]:
                wrong_category.append((row, found.category))
        results[key] = {
            "total": len(rows),
            "caught": len(rows) - len(missed),
            "missed": missed,
            "wrong_language": wrong_language,
            "wrong_category": wrong_category,
        }

    ordinary = load_table(ORDINARY_TABLE, "messages")
    alarms = []
    for row in ordinary:
        found = detect_crisis(row["text"])
        if found is not None:
            alarms.append((row, found))
    results["ordinary"] = {"total": len(ordinary), "alarms": alarms}
    return results


def _rate(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100.0 * part / whole:.1f}%)" if whole else "0/0"


def render_report(results: dict) -> str:
    """Render `measure()` results as the Markdown section of the report."""
    main, holdout, ordinary = (
        results["phrasings"], results["holdout"], results["ordinary"]
    )
    lines = [
        "| table | measure | result |",
        "| --- | --- | --- |",
        f"| crisis phrasings (main) | recall | "
        f"{_rate(main['caught'], main['total'])} |",
        f"| crisis phrasings (hold-out) | recall | "
        f"{_rate(holdout['caught'], holdout['total'])} |",
        f"| ordinary messages | false alarms | "
        f"{_rate(len(ordinary['alarms']), ordinary['total'])} |",
        f"| crisis phrasings (main) | wrong language | "
        f"{_rate(len(main['wrong_language']), main['caught'])} |",
        f"| crisis phrasings (main) | other category than labelled | "
        f"{_rate(len(main['wrong_category']), main['caught'])} |",
        "",
    ]
    if holdout["missed"]:
        lines.append("Hold-out phrasings the rules miss:")
        lines.append("")
        lines.extend(f"- {row['text']!r} ({row['category']}, {row['language']})"
                     for row in holdout["missed"])
        lines.append("")
    if main["missed"]:
        lines.append("Main phrasings the rules miss:")
        lines.append("")
        lines.extend(f"- {row['text']!r}" for row in main["missed"])
        lines.append("")
    if ordinary["alarms"]:
        lines.append("Ordinary messages that raise an alarm:")
        lines.append("")
        lines.extend(f"- {row['text']!r} -> {found.category} (`{found.rule}`)"
                     for row, found in ordinary["alarms"])
        lines.append("")
    return "\n".join(lines)


def write_report(markdown: str, path: Path = REPORT_DOC) -> None:
    """Replace the measured section of `path` with `markdown`.

    Raises:
        ValueError: the document lacks the start and end markers.
    """
    document = path.read_text(encoding="utf-8")
    if REPORT_START not in document or REPORT_END not in document:
        raise ValueError(
            f"{path} has no measured section: add the lines {REPORT_START!r} "
            f"and {REPORT_END!r}"
        )
    head, rest = document.split(REPORT_START, 1)
    _, tail = rest.split(REPORT_END, 1)
    path.write_text(
        f"{head}{REPORT_START}\n{markdown}\n{REPORT_END}{tail}", encoding="utf-8"
    )


def main(argv: list[str] | None = None) -> int:
    """Print, and with --report also write, the crisis detection measurements."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.safety", description=main.__doc__
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="also rewrite the measured section of "
        f"{REPORT_DOC.relative_to(PROJECT_ROOT)}",
    )
    args = parser.parse_args(argv)
    markdown = render_report(measure())
    print(markdown)
    if args.report:
        write_report(markdown)
        print(f"Wrote {REPORT_DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
