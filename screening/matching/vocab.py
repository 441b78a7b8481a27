"""Word tables the normalizer and scorer use: legal forms, titles, and how much a name part is worth.

Weights say how much a part identifies someone: a rare part is worth 1.0, a very common surname or a generic
organization word much less, so that sharing "Wang" or "Public Security Bureau" alone never makes a match.
The index also lowers the weight of parts that are frequent in the loaded list (see index.py).
"""

from __future__ import annotations

from functools import lru_cache

# Legal forms, English and other languages, written as token sequences after normalization (lower case ASCII,
# punctuation removed), each with the class it belongs to: two names that differ only in their legal form's spelling
# (Co., Ltd. / Company Limited; OOO / LLC) rank as having the same one. Forms written out or transliterated
# (Aktsionernoe Obshchestvo, Gesellschaft mit beschrankter Haftung, Sociedad Anonima) are here too.
_LEGAL_FORM_CLASSES: dict[str, str] = {
    # limited companies
    "co ltd": "ltd", "co limited": "ltd", "company limited": "ltd", "company ltd": "ltd", "limited company": "ltd",
    "ltd": "ltd", "limited": "ltd", "private limited": "ltd", "pvt ltd": "ltd", "pte ltd": "ltd", "pty ltd": "ltd",
    "private limited company": "ltd", "company limited by shares": "ltd", "ltd sti": "ltd",
    "limited sirketi": "ltd", "sdn bhd": "ltd", "bhd": "ltd", "berhad": "ltd", "sendirian berhad": "ltd",
    "public limited company": "plc", "plc": "plc",
    # limited liability companies
    "llc": "llc", "l l c": "llc", "limited liability company": "llc", "gmbh": "llc",
    "gesellschaft mit beschrankter haftung": "llc", "ooo": "llc", "tov": "llc", "too": "llc",
    "obshchestvo s ogranichennoi otvetstvennostiu": "llc", "obshchestvo s ogranichennoy otvetstvennostyu": "llc",
    "obshchestvo s ogranichennoi otvetstvennostyu": "llc", "tovarystvo z obmezhenoiu vidpovidalnistiu": "llc",
    "sarl": "llc", "societe a responsabilite limitee": "llc", "srl": "llc", "s r l": "llc",
    "societa a responsabilita limitata": "llc", "sociedad de responsabilidad limitada": "llc", "sl": "llc",
    "sociedad limitada": "llc", "ltda": "llc", "lda": "llc", "sp z o o": "llc", "sp zoo": "llc",
    "spolka z ograniczona odpowiedzialnoscia": "llc", "sro": "llc", "s r o": "llc", "kft": "llc", "doo": "llc",
    "d o o": "llc", "ood": "llc", "eood": "llc", "bv": "llc", "b v": "llc", "besloten vennootschap": "llc",
    "aps": "llc", "eirl": "llc", "fzco": "llc", "fze": "llc", "fzc": "llc", "fz llc": "llc", "wll": "llc",
    "w l l": "llc", "yugen kaisha": "llc", "godo kaisha": "llc", "s de rl": "llc", "s de rl de cv": "llc",
    "s de r l de c v": "llc", "sociedad de responsabilidad limitada de capital variable": "llc",
    # joint-stock companies
    "jsc": "jsc", "joint stock company": "jsc", "ojsc": "jsc", "cjsc": "jsc", "pjsc": "jsc", "ao": "jsc",
    "oao": "jsc", "zao": "jsc", "pao": "jsc", "aktsionernoe obshchestvo": "jsc",
    "otkrytoe aktsionernoe obshchestvo": "jsc", "zakrytoe aktsionernoe obshchestvo": "jsc",
    "publichnoe aktsionernoe obshchestvo": "jsc", "public joint stock company": "jsc",
    "open joint stock company": "jsc", "closed joint stock company": "jsc", "joint stock commercial bank": "jsc",
    "ag": "jsc", "aktiengesellschaft": "jsc", "sa": "jsc", "s a": "jsc", "sociedad anonima": "jsc",
    "societe anonyme": "jsc", "sa de cv": "jsc", "s a de c v": "jsc", "sociedad anonima de capital variable": "jsc",
    "spa": "jsc", "s p a": "jsc", "societa per azioni": "jsc", "nv": "jsc", "n v": "jsc",
    "naamloze vennootschap": "jsc", "as": "jsc", "a s": "jsc", "asa": "jsc", "ab": "jsc", "oy": "jsc",
    "oyj": "jsc", "ad": "jsc", "ead": "jsc", "zrt": "jsc", "nyrt": "jsc", "dd": "jsc", "se": "jsc", "sas": "jsc",
    "s a s": "jsc", "kk": "jsc", "kabushiki kaisha": "jsc", "tbk": "jsc", "pt": "jsc", "ou": "jsc",
    "anonim sirketi": "jsc", "jusik hoesa": "jsc", "gufen youxian gongsi": "jsc", "aksiyonerno drujestvo": "jsc",
    # corporations
    "inc": "corp", "incorporated": "corp", "corp": "corp", "corporation": "corp", "co inc": "corp",
    # partnerships
    "lp": "lp", "llp": "lp", "limited partnership": "lp", "limited liability partnership": "lp",
    "general partnership": "lp", "kg": "lp", "gmbh co kg": "lp", "kommanditgesellschaft": "lp", "cv": "lp",
    "snc": "lp", "ohg": "lp",
    # other forms
    "company": "co", "co": "co", "and company": "co", "and co": "co", "holding co": "co", "gongsi": "co",
    "youxian gongsi": "ltd", "youxian zeren gongsi": "llc", "est": "est", "establishment": "est",
}
LEGAL_FORM_CLASS: dict[tuple[str, ...], str] = {tuple(k.split()): v for k, v in _LEGAL_FORM_CLASSES.items()}
LEGAL_FORMS: list[tuple[str, ...]] = sorted(LEGAL_FORM_CLASS, key=lambda f: (-len(f), f))
# Legal forms written run together with the name (BoschGmbH, ACMELLC): only those that no name ends with.
RUN_TOGETHER_LEGAL_FORMS = ("gmbh", "llc", "ltd", "plc", "llp", "pjsc", "ojsc", "cjsc")

# Chinese legal forms, stripped from the end of a name written in Han characters (simplified after conversion).
CJK_LEGAL_FORMS: list[str] = sorted(
    ["股份有限公司", "有限责任公司", "有限公司", "集团有限公司", "集团股份有限公司", "公司", "株式会社", "有限会社"],
    key=len, reverse=True)

# Titles and honorifics in many languages, dropped from persons' names (kept at a low weight otherwise: Imam Hossein
# University). Words that are also given names (Amir, Sultan, Malik, Hafiz, Sayed) are not here.
HONORIFICS: set[str] = set("""
mr mrs ms miss mx dr doctor prof professor sir dame lord lady hon honorable honourable rev reverend
sheikh shaikh sheik shaykh cheikh haji hajji hadji haj hajj alhaj alhajj alhaji imam mullah mulla molla mawlawi
maulavi maulvi moulavi mawlana maulana moulana qari mufti ayatollah hojatoleslam hojjatoleslam
general gen colonel col major maj captain capt lt lieutenant admiral brigadier commander cmdr marshal sergeant sgt
corporal cpl president minister senator ambassador governor comrade
herr frau fraulein monsieur madame mme mlle mademoiselle senor senora senorita signor signora
dott dottore dipl pani gospodin gospozha tovarishch
jr sr ii iii iv phd md esq
""".split())

# Words that carry no identity on their own.
STOPWORDS: set[str] = {"of", "the", "and", "for", "de", "del", "della", "des", "du", "la", "le", "el", "y", "et",
                       "und", "a", "an", "in", "on", "at", "to", "&", "wa", "va"}

# "And" in other languages (Konkord Menedzhment i Konsalting), only for organizations: for a person I or E is an
# initial.
ORG_STOPWORDS: set[str] = {"i", "e", "ve", "u", "och", "og", "en"}

# Arabic name particles after normalization (text.py writes every article as "al", Abdul as "abd al", -ullah as
# "allah", -uddin as "al din"): they link the identifying parts and identify little themselves.
PARTICLES: dict[str, float] = {"al": 0.1, "abd": 0.3, "allah": 0.3, "din": 0.3, "bin": 0.2, "ibn": 0.2,
                               "bint": 0.2, "binti": 0.2, "abu": 0.4, "umm": 0.4, "ould": 0.2, "ben": 0.3}

# Abbreviations of organization words, written out before comparison (Intl / International).
ABBREVIATIONS: dict[str, str] = {
    "intl": "international", "internat": "international", "mfg": "manufacturing", "mfrs": "manufacturers",
    "bros": "brothers", "shpg": "shipping", "natl": "national", "nat": "national", "assn": "association",
    "assoc": "association", "dept": "department", "govt": "government", "univ": "university",
    "inst": "institute", "mgmt": "management", "engg": "engineering", "grp": "group", "hldgs": "holdings",
    "hldg": "holding", "svcs": "services", "svc": "service", "ind": "industries", "inds": "industries",
    "indus": "industries", "trdg": "trading", "invt": "investment", "tech": "technology", "tel": "telecom",
    "elec": "electric", "chem": "chemical", "pharm": "pharmaceutical", "pharma": "pharmaceutical",
    "transp": "transport", "dev": "development", "devt": "development", "mkt": "market", "ent": "enterprises",
    "fdn": "foundation", "ctr": "center", "cntr": "center", "mach": "machinery", "equip": "equipment",
}

# Number words and ordinals, written as digits in organizations' names (Second Academy / 2nd Academy,
# Twenty-One / 21); Roman numerals likewise (Sea Star III / Sea Star 3).
_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen " \
         "seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINAL_UNITS = "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth " \
                 "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth".split()
_ORDINAL_TENS = "_ _ twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth".split()
NUMBER_WORDS: dict[str, int] = {w: i for i, w in enumerate(_UNITS)}
NUMBER_WORDS.update({w: i for i, w in enumerate(_ORDINAL_UNITS)})
for _i, (_ten, _nth) in enumerate(zip(_TENS, _ORDINAL_TENS)):
    if _i >= 2:
        NUMBER_WORDS[_ten] = NUMBER_WORDS[_nth] = 10 * _i
        for _u in range(1, 10):
            NUMBER_WORDS[_ten + _UNITS[_u]] = NUMBER_WORDS[_ten + _ORDINAL_UNITS[_u]] = 10 * _i + _u
NUMBER_WORDS.update({"hundred": 100, "hundredth": 100, "thousand": 1000, "thousandth": 1000})


# Very common surnames and given-name parts (Chinese, Korean, Arabic, Russian, Western...).
COMMON_NAME_PARTS: dict[str, float] = {}
for _w in ("wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he gao lin luo zheng liang "
           "xie song tang han feng deng cao peng zeng xiao tian dong yuan pan yu jiang cai du ye cheng wei su lu "
           "ding ren shen yao jin kim lee park choi jung kang cho yoon jang lim nguyen tran le pham").split():
    COMMON_NAME_PARTS[_w] = 0.35
for _w in ("muhammad mohammad mohammed mohamed mohamad muhammed ahmad ahmed ali hassan hasan hussein husain "
           "hussain abdel abdullah abdallah omar umar ibrahim khan mahmoud mahmud "
           "said saeed yusuf yousef youssef khalid khaled").split():
    COMMON_NAME_PARTS[_w] = 0.4
for _w in ("ivanov ivan smirnov kuznetsov popov petrov vladimir sergey sergei alexander aleksandr andrey "
           "dmitry dmitri john james robert michael william david richard joseph thomas charles maria mary "
           "jose juan carlos luis smith johnson brown jones garcia miller davis rodriguez martinez lopez "
           "gonzalez hernandez wilson anderson taylor moore jackson martin white harris singh kumar "
           "gomez perez sanchez ramirez torres flores diaz rivera morales ortiz cruz reyes gutierrez ruiz "
           "alvarez castillo jimenez moreno romero herrera medina aguilar vargas castro mendoza silva "
           "van von der den de la thi duc "
           "santos oliveira souza ferreira pereira costa rodrigues almeida nunes").split():
    COMMON_NAME_PARTS[_w] = 0.5

# Generic organization vocabulary: present in thousands of names, identifying nothing alone.
GENERIC_ORG_WORDS: dict[str, float] = {w: 0.25 for w in (
    "technology technologies tech digital electronics electronic electric public security bureau department "
    "ministry office agency authority administration committee council commission service services group "
    "holding holdings international global trading trade import export industrial industries industry "
    "manufacturing development investment investments finance financial bank banking capital partners "
    "enterprise enterprises national general state central regional provincial municipal city people peoples "
    "science scientific research institute university school center centre association foundation "
    "organization organisation network systems system solutions resources energy oil gas petroleum "
    "shipping logistics transport construction engineering consulting management company corps "
    "autonomous region province county district branch unit division force forces army police "
    "new first united world airline airlines airways aviation air space aerospace defense defence concern "
    "shipping lines line marine maritime navigation tanker tankers petrochemical petrochemicals chemical "
    "chemicals mining metals steel power telecom telecommunications communications "
    "insurance exchange credit savings commercial cooperative union joint venture products supply supplies "
    "equipment machinery factory plant works academy").split()}

# Place words: they narrow a name (Xinjiang vs Beijing) but identify less than a distinctive name part.
PLACE_WORDS: dict[str, float] = {w: 0.6 for w in (
    "xinjiang beijing shanghai tianjin chongqing guangdong guangzhou shenzhen zhejiang hangzhou jiangsu "
    "nanjing shandong henan hubei hunan hebei shanxi shaanxi sichuan yunnan guizhou fujian xiamen anhui "
    "jiangxi liaoning jilin heilongjiang gansu qinghai ningxia tibet xizang guangxi hainan hong kong macau "
    "taiwan urumqi uygur uyghur uighur xuar tehran moscow dubai damascus pyongyang caracas havana kabul "
    "baghdad beirut iran syria russia korea venezuela cuba iraq lebanon yemen libya sudan china america europe "
    "asia africa middle east west north south dprk ussr "
    "american chinese russian iranian syrian korean venezuelan cuban iraqi lebanese yemeni libyan sudanese "
    "european asian african arab arabian islamic persian turkish emirates").split()}


@lru_cache(maxsize=200_000)
def base_weight(token: str) -> float:
    """How much a name part identifies, before the list's own frequencies are taken into account."""
    if token in COMMON_NAME_PARTS:  # before the stopwords: Du and Le are family names, kept as such (text.py)
        return COMMON_NAME_PARTS[token]
    if token in STOPWORDS:
        return 0.0
    if token in PARTICLES:
        return PARTICLES[token]
    if token in HONORIFICS:
        return 0.15
    for table in (COMMON_NAME_PARTS, GENERIC_ORG_WORDS, PLACE_WORDS):
        if token in table:
            return table[token]
    if token.isdigit():
        return 1.0  # a number in a name is distinctive (Nord Stream 2, Unit 26165)
    if len(token) <= 2:
        return 0.5
    return 1.0


# Korean family names: the Revised Romanization the romanizer gives (Gim, I, Bak) is rarely how the names are written
# in passports and lists (Kim, Lee, Park). No package in our registries carries this table; these are the
# conventional spellings of the most common surnames, North Korean forms (Ri, Rim) included.
KOREAN_SURNAMES: dict[str, tuple[str, ...]] = {
    "김": ("kim",), "이": ("lee", "yi", "rhee", "ri"), "리": ("ri", "lee"), "박": ("park", "pak"), "최": ("choi", "choe"),
    "정": ("jung", "chung", "jeong"), "강": ("kang",), "조": ("cho", "jo"), "윤": ("yoon", "yun"),
    "장": ("jang", "chang"), "임": ("lim", "im", "rim"), "림": ("rim", "lim"), "한": ("han",), "오": ("oh", "o"),
    "서": ("seo", "suh"), "신": ("shin", "sin"), "권": ("kwon",), "황": ("hwang",), "안": ("ahn", "an"),
    "송": ("song",), "류": ("ryu", "yoo", "yu"), "유": ("yoo", "yu"), "홍": ("hong",), "전": ("jeon", "jun", "chun"),
    "고": ("ko", "go"), "문": ("moon", "mun"), "손": ("son", "sohn"), "양": ("yang",), "배": ("bae",),
    "백": ("baek", "paik", "paek"), "허": ("heo", "huh", "hur"), "남": ("nam",), "노": ("noh", "roh", "no"),
    "로": ("ro", "roh"), "하": ("ha",), "곽": ("kwak",), "성": ("sung", "seong"), "차": ("cha",),
    "주": ("joo", "ju", "chu"), "우": ("woo", "u"), "구": ("koo", "ku", "gu"), "민": ("min",), "나": ("na", "ra"),
    "진": ("jin", "chin"), "지": ("ji", "chi"), "엄": ("eom", "um"), "채": ("chae",), "원": ("won",),
    "천": ("cheon", "chun"), "방": ("bang",), "공": ("kong", "gong"), "현": ("hyun", "hyeon"), "함": ("ham",),
    "변": ("byun", "byeon"), "염": ("yeom", "yum"), "여": ("yeo", "yuh"), "추": ("choo", "chu"), "도": ("do", "doh"),
    "석": ("seok", "suk"), "설": ("seol", "sul"), "길": ("kil", "gil"), "연": ("yeon", "yun"), "표": ("pyo",),
    "명": ("myung", "myeong"), "기": ("ki", "gi"), "반": ("ban",), "왕": ("wang",), "금": ("keum", "geum"),
    "옥": ("ok",), "육": ("yook", "yuk"), "인": ("in",), "탁": ("tak",), "국": ("kook", "guk"),
}
