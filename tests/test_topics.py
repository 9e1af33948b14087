"""Table tests for detect_services in bot/topics.py."""

from __future__ import annotations

import pytest

from bot.topics import ECM, HOUSING_SERVICES, SERVICES, detect_services

NAV = "housing_transition_navigation"
DEPOSITS = "housing_deposits"
TENANCY = "housing_tenancy_sustaining"
ASSISTED = "assisted_living_transition"
MOVE_HOME = "community_transition_home"
HOME_MODS = "home_modifications"
MEALS = "medically_tailored_meals"
HOUSING = list(HOUSING_SERVICES)
FACILITY = [ASSISTED, MOVE_HOME]

CASES = [
    # housing in general: all three housing services
    ("check for housing help", HOUSING),
    ("I need help with housing", HOUSING),
    ("I'm homeless", HOUSING),
    ("I have no place to live", HOUSING),
    ("housng", HOUSING),
    ("help with rent", HOUSING),
    ("necesito ayuda con la vivienda", HOUSING),
    ("estoy sin hogar", HOUSING),
    # a specific housing service only
    ("can u help w a deposit", [DEPOSITS]),
    ("housing deposit", [DEPOSITS]),
    ("security deposit", [DEPOSITS]),
    ("depost", [DEPOSITS]),
    ("first month's rent", [DEPOSITS]),
    ("help with move-in costs", [DEPOSITS]),
    ("getting the utilities set up", [DEPOSITS]),
    ("necesito ayuda con el depósito", [DEPOSITS]),
    ("find an apartment", [NAV]),
    ("looking for a place", [NAV]),
    ("help me find housing", [NAV]),
    ("I have a section 8 voucher", [NAV]),
    ("busco un apartamento", [NAV]),
    ("I'm about to be evicted", [TENANCY]),
    ("help keep my apartment", [TENANCY]),
    ("my landlord wants me out", [TENANCY]),
    ("I'm behind on rent", [TENANCY]),
    ("me van a desalojar", [TENANCY]),
    ("my landlord kept my deposit", [DEPOSITS, TENANCY]),
    # facilities
    ("my mom wants out of the nursing home", FACILITY),
    ("he's in a skilled nursing facility", FACILITY),
    ("nursin home", FACILITY),
    ("mi mamá quiere salir del asilo", FACILITY),
    ("mi papá está en un hogar de ancianos", FACILITY),
    ("assisted living", [ASSISTED]),
    ("assited living", [ASSISTED]),
    ("board and care", [ASSISTED]),
    ("can my grandma go to assisted living instead of the nursing home", [ASSISTED]),
    ("vida asistida", [ASSISTED]),
    ("my dad lives in a nursing home and wants to move home", [MOVE_HOME]),
    ("I want to move back home", [MOVE_HOME]),
    ("quiere regresar a casa", [MOVE_HOME]),
    # home modifications
    ("grab bars", [HOME_MODS]),
    ("grabbars for the shower", [HOME_MODS]),
    ("wheelchair ramp", [HOME_MODS]),
    ("a ramp for my house", [HOME_MODS]),
    ("stair lift", [HOME_MODS]),
    ("handrails on the stairs", [HOME_MODS]),
    ("home modifications", [HOME_MODS]),
    ("I need a home modification", [HOME_MODS]),
    ("make my bathroom safer", [HOME_MODS]),
    ("barras de apoyo para el baño", [HOME_MODS]),
    ("una rampa", [HOME_MODS]),
    # meals
    ("meals for my diabetes", [MEALS]),
    ("medically tailored meals", [MEALS]),
    ("food delivery", [MEALS]),
    ("meels", [MEALS]),
    ("comidas para mi diabetes", [MEALS]),
    # enhanced care management
    ("care manager", [ECM]),
    ("I want a case manager", [ECM]),
    ("care coordinator", [ECM]),
    ("enhanced care management", [ECM]),
    ("ECM", [ECM]),
    ("care manger", [ECM]),
    ("someone to coordinate my care", [ECM]),
    ("administrador de casos", [ECM]),
    ("manejo de atención mejorada", [ECM]),
    # several at once, in the fixed order
    ("I need a care manager and help with meals", [ECM, MEALS]),
    ("grab bars and a deposit", [DEPOSITS, HOME_MODS]),
    # Community Supports in general
    ("what are community supports", list(SERVICES)),
    ("apoyos comunitarios", list(SERVICES)),
    # nothing
    ("", []),
    ("hi", []),
    ("I'm 45", []),
    ("yes", []),
    ("I stay home most days", []),
    ("what is calaim", []),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_detect_services(text, expected):
    assert detect_services(text) == expected


def test_services_are_the_seven_community_supports():
    assert len(SERVICES) == 7
    assert ECM not in SERVICES
