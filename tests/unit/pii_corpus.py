"""A generated corpus for the PII guard: fake but valid identifiers in Dutch sentences.

Every identifier here is generated (valid check digits, never a real person's); the clean
sentences are realistic action descriptions of a case plan.
"""

from __future__ import annotations

import random
import string

import phonenumbers
from stdnum import iban

FORBIDDEN = ["Xyvorna", "Qelbrandt", "Zunifex", "Vorpelaar", "Krimsdal"]

TEMPLATES = [
    "Huisbezoek afstemmen, bereikbaar via {x}",
    "Contact opnemen met betrokkene ({x}) voor een gesprek",
    "Bel {x} over de voortgang van het traject",
    "Gegevens {x} controleren in het eigen systeem",
    "Terugkoppeling aan wijkteam, zie {x}",
    "{x} doorgeven aan de reclassering",
    "Nagaan of {x} nog klopt",
    "Afspraak maken; kenmerk {x}",
    "Stuur de brief naar {x} voor vrijdag",
    "Let op: {x} is gewijzigd sinds vorige week",
]

CLEAN = [
    "Huisbezoek afstemmen met wijkagent",
    "Casus bespreken in het volgende overleg op {date}",
    "Gesprek met school plannen binnen {n} werkdagen",
    "Terugkoppeling aan coördinator voor {date}",
    "Risicotaxatie actualiseren (versie {v})",
    "Contact leggen met jeugdhulp over het plan van aanpak",
    "Nagaan welke hulpverlening al betrokken is",
    "Screening door Reclassering afronden in week {week}",
    "Verslag van het gesprek van {date} delen met de kernpartners",
    "Advies OM opvragen over vervolgstappen",
    "Overdracht naar zorgpartner voorbereiden, {n} gesprekken gepland",
    "Signalen uit de wijk bundelen vóór {date} om {time}",
    "Veiligheidsplan bijwerken en bespreken op {date}",
    "Afstemmen met {partner} over de aanpak rond {case}",
    "Actie {action} uit vorig overleg opvolgen",
    "Evaluatie na {n} weken; bespreken in overleg M{m}",
    "Zorgmelding doorzetten naar Veilig Thuis",
    "{n} keer per week contact met mentor",
    "Dossier opvragen bij Raad voor de Kinderbescherming (zaaknr. RvdK-{year}-{num})",
    "Plan van aanpak toelichten aan ouders tussen {time} en {time2}",
    "Monitoring voortzetten tot {date}",
    "Casus {case} afsluiten na laatste evaluatie",
    "Budget van {n}00 euro aanvragen voor begeleiding",
    "Training weerbaarheid inplannen, {n} sessies van {mins} minuten",
    "Afspraak met huisarts via het wijkteam laten lopen",
    "Bespreking met gemeente Venlo en politie Limburg-Noord",
    "Verzoek tot informatie uitzetten bij DJI, referentie {ref}",
    "Voortgang rapporteren in kwartaal {q} van {year}",
    "Locatie voor gesprek: Veiligheidshuis Venlo, zaal {n}",
    "Nieuwe signalering bespreken in weegoverleg van {date}",
]
PARTNERS = ["Politie", "Gemeente", "OM", "Reclassering", "Jeugdzorg", "Veilig Thuis", "GGD"]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def fake_bsn(rng: random.Random) -> str:
    while True:
        first = _digits(rng, 8)
        total = sum(int(d) * w for d, w in zip(first, range(9, 1, -1), strict=True))
        check = total % 11
        if check < 10 and first[0] != "0":
            raw = first + str(check)
            style = rng.randrange(4)
            if style == 1:
                return f"{raw[:4]}.{raw[4:6]}.{raw[6:]}"
            if style == 2:
                return f"{raw[:3]} {raw[3:6]} {raw[6:]}"
            return raw


def fake_iban(rng: random.Random) -> str:
    bank = rng.choice(["ABNA", "INGB", "RABO", "SNSB", "TRIO"])
    bban = bank + _digits(rng, 10)
    value = "NL00" + bban
    value = "NL" + iban.calc_check_digits(value) + bban
    if rng.random() < 0.5:
        return " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


def fake_phone(rng: random.Random) -> str:
    while True:
        style = rng.randrange(6)
        if style == 0:
            s = f"06-{rng.randint(1, 5)}{_digits(rng, 7)}"
        elif style == 1:
            s = f"06 {rng.randint(1, 5)}{_digits(rng, 1)} {_digits(rng, 2)} {_digits(rng, 2)} " \
                f"{_digits(rng, 2)}"
        elif style == 2:
            s = f"+31 6 {rng.randint(1, 5)}{_digits(rng, 7)}"
        elif style == 3:
            s = f"010-{rng.randint(2, 5)}{_digits(rng, 6)}"
        elif style == 4:
            s = f"+44 20 7946 0{_digits(rng, 3)}"
        else:
            area = rng.choice(["20", "30", "40", "70", "77"])
            s = f"0{area}-{rng.randint(2, 5)}{_digits(rng, 6)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(s, "NL")):
            return s


def fake_email(rng: random.Random) -> str:
    local = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 10)))
    sep = rng.choice([".", "_", ""])
    local2 = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 8)))
    return f"{local}{sep}{local2}@{rng.choice(['example.org', 'voorbeeld.nl', 'test.invalid'])}"


def fake_postcode(rng: random.Random) -> str:
    letters = "".join(rng.choice("ABCEGHJKLMNPRTVWXZ") for _ in range(2))
    code = f"{rng.randint(1000, 9999)}{rng.choice([' ', ''])}{letters}"
    style = rng.randrange(3)
    if style == 0:
        return f"{code} {rng.randint(1, 250)}"
    if style == 1:
        return f"{rng.choice(['Dorpsstraat', 'Kerkweg', 'Molenlaan', 'Marktplein'])} " \
               f"{rng.randint(1, 250)}, {code}"
    return f"{code}, huisnummer {rng.randint(1, 250)}"


MONTH_WORDS = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
               "september", "oktober", "november", "december"]


def fake_birthdate(rng: random.Random) -> str:
    y, m, d = rng.randint(1940, 2014), rng.randint(1, 12), rng.randint(1, 28)
    style = rng.randrange(5)
    if style == 0:
        return f"geboren {d}-{m}-{y}"
    if style == 1:
        return f"geb. {d} {MONTH_WORDS[m - 1]} {y}"
    if style == 2:
        return f"dob {y}-{m:02d}-{d:02d}"
    if style == 3:
        return f"{d:02d}-{m:02d}-{y}"
    return f"geboortedatum {d}/{m}/{y}"


def forbidden_mention(rng: random.Random) -> str:
    return rng.choice(FORBIDDEN)


KINDS = {"bsn": fake_bsn, "iban": fake_iban, "phone": fake_phone, "email": fake_email,
         "postcode": fake_postcode, "birthdate": fake_birthdate,
         "forbidden": forbidden_mention}


def positives(kind: str, n: int, seed: int = 7) -> list[str]:
    rng = random.Random(f"{kind}-{seed}")
    return [rng.choice(TEMPLATES).format(x=KINDS[kind](rng)) for _ in range(n)]


def clean(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(f"clean-{seed}")
    out = []
    for _ in range(n):
        out.append(rng.choice(CLEAN).format(
            date=f"{rng.randint(1, 28)}-{rng.randint(1, 12)}-{rng.randint(2025, 2028)}",
            n=rng.randint(1, 12), v=f"{rng.randint(1, 4)}.{rng.randint(0, 9)}",
            week=rng.randint(1, 52), partner=rng.choice(PARTNERS),
            case="C-" + "".join(rng.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(6)),
            action=f"A{rng.randint(1, 99)}", m=rng.randint(1, 40),
            year=rng.randint(2024, 2028), num=rng.randint(100, 9999),
            time=f"{rng.randint(8, 17)}:{rng.choice(['00', '15', '30', '45'])}",
            time2=f"{rng.randint(8, 17)}:{rng.choice(['00', '30'])}",
            mins=rng.choice([30, 45, 60, 90]), q=rng.randint(1, 4),
            ref=f"DJI-{rng.randint(2020, 2028)}/{rng.randint(1000, 99999)}"))
    return out
